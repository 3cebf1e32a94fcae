# --- directories, by descriptor. open_dir sets $dir to /proc/<pid>/fd/<n>, an open descriptor on
# directory $1, creating missing components (root, 0755). The kernel's name for each opened
# directory must be the path itself: a symlink on the way, or a directory swapped while being
# opened, is refused. What follows writes through the descriptor, so renaming the directory
# afterwards moves nothing anywhere else.
open_dir() {
  local at='' comp fd next
  exec {fd}</
  IFS=/ read -ra comps <<< "${1#/}"
  for comp in "${comps[@]}"; do
    [ -e "/proc/$BASHPID/fd/$fd/$comp" ] || [ -L "/proc/$BASHPID/fd/$fd/$comp" ] || mkdir -m 0755 "/proc/$BASHPID/fd/$fd/$comp"
    # cd, not open: a FIFO put in a directory's place cannot block it.
    cd -P "/proc/$BASHPID/fd/$fd/$comp" 2>/dev/null || die "$at/$comp is not a directory"
    exec {next}<.
    cd /
    exec {fd}<&-
    fd=$next at=$at/$comp
    [ "$(readlink "/proc/$BASHPID/fd/$fd")" = "$at" ] || die "$at is a symlink or was moved while opened: refusing to write below it"
  done
  dir=/proc/$BASHPID/fd/$fd
}
declare -A dirs=()
# Sets $dir to the directory of file $1, which only root may write into.
target_dir() {
  local d=${1%/*}
  if [ -z "${dirs[$d]:-}" ]; then
    open_dir "$d"
    [ "$(stat -L -c %u "$dir")" = 0 ] && (((8#$(stat -L -c %a "$dir") & 8#022) == 0)) ||
      die "$d can be written by others than root: refusing to write in it"
    dirs[$d]=$dir
  fi
  dir=${dirs[$d]}
}
# A directory the role needs with its owner and mode, made or put right through a descriptor (its
# parent may be a daemon's, e.g. /var/lib/rspamd): a symlink planted in its place is removed first.
managed_dir() {
  local d=$1 name=${1##*/}
  open_dir "${d%/*}"
  if [ -L "$dir/$name" ]; then log "removing the symlink planted at $d"; rm -f "$dir/$name" || true; fi
  [ -e "$dir/$name" ] || mkdir -m 0700 "$dir/$name" || true
  open_dir "$d"
  chown "$2" "$dir"
  chmod "$3" "$dir"
}

