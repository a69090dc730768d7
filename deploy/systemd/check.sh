#!/bin/sh
# check.sh: the static checks of the systemd units, run by `make test-deploy` (no systemd
# needs to run as PID 1: nothing here starts a unit).
#   1. systemd-analyze verify on both units must print nothing: it exits 0 on unknown
#      keys and bad values, so any output fails the check;
#   2. systemd-analyze security --offline=true must rate each unit's exposure at most
#      $MAX_EXPOSURE (0 = locked down, 10 = exposed);
#   3. every key of unionportal.env.example must be a setting of README.md's table.
# verify insists that ExecStart's binary exists; the units name the installed path,
# /usr/local/bin/unionportal, so the check verifies copies in a temporary directory whose
# ExecStart points at an executable stub there (verify only checks that it is executable).
set -eu
MAX_EXPOSURE=${MAX_EXPOSURE:-2.0}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if ! command -v systemd-analyze >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing systemd (for systemd-analyze) with apt-get"
    apt-get update -qq && apt-get install -y -qq --no-install-recommends systemd >/dev/null
  else
    echo "systemd-analyze is missing: install systemd (Debian: apt-get install systemd)"; exit 1
  fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#!/bin/sh\nexit 0\n' >"$tmp/unionportal"
chmod 0755 "$tmp/unionportal"

fail=0
# verify_quiet UNIT: systemd-analyze verify's output, empty when the unit is clean.
verify_quiet() {
  systemd-analyze verify "$1" 2>&1 || echo "systemd-analyze verify exited $?"
}

for name in unionportal-serve unionportal-worker; do
  unit="$here/$name.service"
  cmd=${name#unionportal-}
  if ! grep -qx "ExecStart=/usr/local/bin/unionportal $cmd" "$unit"; then
    echo "$name.service: ExecStart must be /usr/local/bin/unionportal $cmd"; fail=1
  fi
  sed "s#^ExecStart=/usr/local/bin/unionportal #ExecStart=$tmp/unionportal #" "$unit" >"$tmp/$name.service"
  out=$(verify_quiet "$tmp/$name.service")
  verified="verify clean"
  if [ -n "$out" ]; then
    echo "$name.service: systemd-analyze verify reported:"; echo "$out" | sed "s#$tmp/##g"; fail=1
    verified="verify FAILED"
  fi
  line=$(systemd-analyze security --offline=true "$tmp/$name.service" 2>&1 | grep 'Overall exposure level' || true)
  level=$(echo "$line" | sed -n 's/.*: \([0-9][0-9.]*\) .*/\1/p')
  if [ -z "$level" ]; then
    echo "$name.service: systemd-analyze security gave no exposure level"; fail=1
  elif awk -v l="$level" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(l > m) }'; then
    echo "$name.service: exposure $level is above $MAX_EXPOSURE:"
    systemd-analyze security --offline=true "$tmp/$name.service" 2>&1 | grep '✗' || true; fail=1
  else
    echo "$name.service: $verified, exposure $level (at most $MAX_EXPOSURE)"
  fi
done

# The check itself: a unit with an unknown key must produce output, or a typo would pass.
sed 's/^NoNewPrivileges=yes/NoNewPrivilege=yes/' "$tmp/unionportal-serve.service" >"$tmp/typo.service"
if [ -z "$(verify_quiet "$tmp/typo.service")" ]; then
  echo "systemd-analyze verify said nothing about an unknown key: this check cannot be trusted"; fail=1
fi

settings=$(grep -o '^| `UNIONPORTAL_[A-Z0-9_]*`' "$root/README.md" | tr -d '|` ')
for key in $(grep -o '^[A-Z0-9_]*=' "$here/unionportal.env.example" | tr -d '='); do
  if ! echo "$settings" | grep -qx "$key"; then
    echo "unionportal.env.example: $key is not a setting of README.md's configuration table"; fail=1
  fi
done
[ "$fail" = 0 ] && echo "systemd units: ok"
exit "$fail"
