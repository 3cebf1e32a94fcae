# --- 1. read the bundle: a header, then "<mode> <owner> <group> <path> <base64>" per file, each
# separated by exactly one space (components/push/bundle.ts reads it with the same rules, the
# BUNDLE_ patterns of the header: components/push/bundleGrammar.ts).
allowed() {
  local p max who
  while read -r p max who; do
    [ -n "$p" ] || continue
    if [ "$p" = "$1" ] || { [ "${p: -1}" = / ] && [ "${1#"$p"}" != "$1" ]; }; then
      [ "$who" = "$3:$4" ] || die "$1: owner $3:$4 is not allowed for the $role role (only $who)"
      (((8#$2 & ~8#$max) == 0)) || die "$1: mode $2 is above the $max the $role role allows"
      return 0
    fi
  done <<< "$allow"
  die "$1 is not a file the $role role may write"
}
plain_path() { [[ $1 =~ $BUNDLE_PATH && "$1/" != */./* && "$1/" != */../* ]]; }

work='' phase=prepare raw=''
trap '[ -z "$raw" ] || rm -f "$raw"' EXIT
raw=$(mktemp)
cat > "$raw"
[ -s "$raw" ] || die "empty bundle on stdin"
# Every byte a bundle can hold: NUL, tab, CR or anything else would be read differently somewhere.
[ "$(tr -d "$BUNDLE_ALPHABET" < "$raw" | wc -c)" = 0 ] || die "bad bundle: a byte outside its alphabet (NUL, tab, CR or other)"
[ "$(tail -c 1 "$raw" | od -An -tx1 | tr -d ' ')" = 0a ] || die "truncated bundle: no final newline"
mapfile -t lines < "$raw"
rm -f "$raw"
raw=''
header_re="^$BUNDLE_MAGIC $BUNDLE_COUNT\$"
[[ ${lines[0]} =~ $header_re ]] || die "stdin is not a mailfleet bundle"
count=${BASH_REMATCH[1]}
[ "$((${#lines[@]} - 1))" -ge "$count" ] || die "truncated bundle: $((${#lines[@]} - 1)) of $count files"
[ "$((${#lines[@]} - 1))" = "$count" ] || die "bad bundle: more lines than its $count files"
paths=() modes=() owners=() groups=() contents=()
declare -A seen=()
for line in "${lines[@]:1}"; do
  [[ $line =~ $BUNDLE_LINE ]] || die "bad bundle line '${line:0:80}': not <mode> <owner> <group> <path> <base64> with single spaces"
  mode=${BASH_REMATCH[1]} owner=${BASH_REMATCH[2]} group=${BASH_REMATCH[3]} path=${BASH_REMATCH[4]} content=${BASH_REMATCH[5]}
  plain_path "$path" || die "bad path '$path'"
  [[ $content =~ $BUNDLE_BASE64 ]] || die "bad content for $path"
  [ -z "${seen[$path]:-}" ] || die "$path twice in the bundle"
  seen[$path]=1
  allowed "$path" "$mode" "$owner" "$group"
  paths+=("$path") modes+=("$mode") owners+=("$owner") groups+=("$group") contents+=("$content")
done
has_nft=false
[ -z "${seen[$NFT_CONF]:-}" ] || has_nft=true

# The address the push comes from (sudo drops SSH_CONNECTION: deployCommand passes it).
ipv4_re='^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$'
if [[ $from =~ ^::[fF]{4}:(.*)$ && ${BASH_REMATCH[1]} =~ $ipv4_re ]]; then from=${from:7}; fi
[ -z "$from" ] || [[ $from =~ $ipv4_re ]] || [[ ${#from} -le 39 && $from =~ ^([0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}$ ]] ||
  die "bad push address '$from'"

if $check_only; then
  for i in "${!paths[@]}"; do
    echo "${modes[$i]} ${owners[$i]} ${groups[$i]} ${paths[$i]} $(printf '%s' "${contents[$i]}" | base64 -d | sha256sum | cut -d' ' -f1)"
  done
  exit 0
fi
[ "$(id -u)" = 0 ] || die "must run as root"

