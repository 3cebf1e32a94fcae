# --- the journal: $txn holds "present|absent <path>" per touched file in `touched`, the previous
# files in backup/<path> and the new manifest; it exists exactly while a set is swapped but not
# committed. Committing renames it to `done`, whose manifest then replaces the old one.
restore_txn() {
  local state p tmp
  while read -r state p; do
    plain_path "$p" || continue
    target_dir "$p"
    rm -f "$dir"/.mailfleet-new.*
    if [ "$state" = present ]; then
      tmp=$(mktemp "$dir/.mailfleet-new.XXXXXXXX")
      cp -p "$txn/backup$p" "$tmp"
      mv -fT "$tmp" "$dir/${p##*/}"
    else
      rm -f "$dir/${p##*/}"
    fi
  done < "$txn/touched"
}
managed_nft() { [ -f "$state/manifest" ] && grep -qx "$NFT_CONF" "$state/manifest"; }
rollback() {
  if (restore_txn); then
    nft_managed=false
    if managed_nft; then nft_managed=true; fi
    reload_logged || log "the previous config did not reload either"
    rm -rf "$txn"
  else
    log "could not restore every file: the next deploy retries from the journal"
  fi
}
finish_commit() {
  [ -d "$state/done" ] || return 0
  if [ -f "$state/done/manifest" ]; then mv -f "$state/done/manifest" "$state/manifest"; fi
  rm -rf "$state/done"
}
on_exit() {
  local rc=$?
  set +e
  trap '' HUP INT TERM
  if [ "$phase" = swap ]; then
    log "stopped before the new files were committed (status $rc): restoring the previous files"
    rollback
    [ "$rc" != 0 ] || rc=1
  fi
  [ -z "$work" ] || rm -rf "$work"
  [ -z "${state:-}" ] || rm -rf "$state/txn.new"
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
# A dropped connection must not kill the restore halfway through a log line.
trap '' PIPE

