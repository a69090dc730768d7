#!/usr/bin/env bash
# test-image.sh: build the container image from deploy/Dockerfile with podman, run it as
# `serve --demo` (the embedded default) with its port published on loopback, and check
# through that port that /healthz answers and a demo user can log in; check that it runs
# as a non-root user and that its HEALTHCHECK reports healthy. Called by `make
# test-image` (part of `make test`), after the web UI is built.
#
# Everything podman stores (image layers, the container) lives in a temporary directory
# (vfs storage driver, --root/--runroot), removed on every exit, so the host's own
# container storage is never touched. Needs root: as root on Debian podman is installed
# with apt-get when missing; elsewhere the test prints why it is skipped and exits 0.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start=$SECONDS
say() { printf 'test-image: %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
	say "skipped: needs root (podman with the vfs driver and runc, as set up on the CI machine)"
	exit 0
fi
# runc, not crun (Debian's default for podman), which fails in some sandboxes.
missing=()
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || missing+=(runc)
if [ "${#missing[@]}" != 0 ]; then
	if command -v apt-get >/dev/null 2>&1; then
		say "installing ${missing[*]} with apt-get"
		apt-get update -qq && apt-get install -y -qq --no-install-recommends podman runc >/dev/null
	else
		say "skipped: ${missing[*]} missing (and this is not Debian, so not installed)"
		exit 0
	fi
fi

make --no-print-directory image-context >/dev/null

tmp=$(mktemp -d "${TMPDIR:-/tmp}/unionportal-image.XXXXXX")
image=localhost/unionportal:test-$$
ctr=unionportal-test-$$
pod() {
	podman --root "$tmp/root" --runroot "$tmp/run" --storage-driver vfs \
		--cgroup-manager cgroupfs --events-backend file --tmpdir "$tmp/libpod" "$@"
}
cleanup() {
	status=$?
	if [ "$status" != 0 ] && pod container exists "$ctr" 2>/dev/null; then
		say "failed; the container's log:"
		pod logs "$ctr" 2>&1 | tail -n 40 | sed 's/^/  | /' || true
	fi
	pod rm -f -v -t 0 "$ctr" >/dev/null 2>&1 || true
	pod rmi -f "$image" >/dev/null 2>&1 || true
	# vfs needs no mounts, but a container's /dev/shm may outlive a killed podman.
	grep -o " $tmp/[^ ]*" /proc/mounts 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$tmp"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "building $image from deploy/Dockerfile (podman build --isolation chroot, vfs storage in $tmp)"
pod build --quiet --isolation chroot --format docker -f deploy/Dockerfile -t "$image" . >/dev/null
size=$(pod image inspect --format '{{.Size}}' "$image")
say "built: $((size / 1024 / 1024)) MiB"

# Podman times a HEALTHCHECK with a systemd timer and logs an error where there is no
# systemd; that line is dropped (the check is run below with podman healthcheck run).
quiet() { "$@" 2> >(grep -v 'systemd connection' >&2); }
# Hardened as in deploy/compose.yaml: read-only root (data on the image's /data volume,
# a tmpfs on /tmp), no capabilities, no privilege escalation.
quiet pod run -d --name "$ctr" --runtime runc \
	--ulimit nofile=20000:20000 --ulimit nproc=4096:4096 \
	--read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges \
	-p 127.0.0.1::8080 "$image" serve --demo >/dev/null
hostport=$(pod port "$ctr" 8080/tcp)
hostport=${hostport##*:}
url="http://127.0.0.1:$hostport"
say "running $ctr (serve --demo; read-only root, no capabilities), port 8080 published on $url"

for i in $(seq 1 120); do
	if curl -fsS -o /dev/null "$url/healthz" 2>/dev/null; then break; fi
	if [ "$(pod inspect --format '{{.State.Running}}' "$ctr")" != true ]; then
		say "FAIL: the container stopped"
		exit 1
	fi
	[ "$i" = 120 ] && { say "FAIL: $url/healthz did not answer within 60 s"; exit 1; }
	sleep 0.5
done
health=$(curl -fsS "$url/healthz")
say "GET /healthz: $health; GET /: the web UI"

page=$(curl -fsS "$url/")
if ! grep -q '<div id="app">' <<<"$page"; then
	say "FAIL: GET / does not serve the built web UI (was frontend/dist built?)"
	exit 1
fi

# --demo prints the logins (random passwords) on standard output: the container's log.
password=$(pod logs "$ctr" 2>/dev/null | awk '$2 == "editor@mmtuk.example" {print $3; exit}')
if [ -z "$password" ]; then
	say "FAIL: no demo login for editor@mmtuk.example in the container's output"
	exit 1
fi
jar="$tmp/cookies"
login=$(curl -sS -c "$jar" -o "$tmp/login.json" -w '%{http_code}' -H 'Content-Type: application/json' \
	-d "{\"email\":\"editor@mmtuk.example\",\"password\":\"$password\"}" "$url/api/v1/auth/login")
if [ "$login" != 200 ] || ! grep -q '"csrf_token"' "$tmp/login.json"; then
	say "FAIL: POST /api/v1/auth/login answered $login: $(head -c 300 "$tmp/login.json")"
	exit 1
fi
me=$(curl -sS -b "$jar" -o "$tmp/me.json" -w '%{http_code}' "$url/api/v1/me")
if [ "$me" != 200 ] || ! grep -q 'editor@mmtuk.example' "$tmp/me.json"; then
	say "FAIL: GET /api/v1/me with the session answered $me"
	exit 1
fi
subs=$(curl -sS -b "$jar" "$url/api/v1/tenants/industriall/submissions")
if ! grep -q 'Update on Case 3386' <<<"$subs"; then
	say "FAIL: the demo draft is not listed: $(head -c 300 <<<"$subs")"
	exit 1
fi
say "POST /api/v1/auth/login as editor@mmtuk.example: 200; GET /api/v1/me and the demo draft: 200"

user=$(pod inspect --format '{{.Config.User}}' "$ctr")
pid=$(pod inspect --format '{{.State.Pid}}' "$ctr")
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
if [ "$uid" = 0 ] || [ "$user" != 65532:65532 ]; then
	say "FAIL: runs as user \"$user\", uid $uid; want 65532, not root"
	exit 1
fi
say "runs as uid $uid (image user $user), not root"

# The image's HEALTHCHECK (unionportal healthcheck, no shell needed), run now rather than
# waiting for the 30 s interval; podman records the result in the container's state.
pod healthcheck run "$ctr" >/dev/null
hstatus=$(pod inspect --format '{{.State.Health.Status}}' "$ctr")
if [ "$hstatus" != healthy ]; then
	say "FAIL: health status \"$hstatus\", want healthy"
	exit 1
fi
db=$(pod exec "$ctr" /usr/local/bin/unionportal healthcheck --database)
say "HEALTHCHECK: $hstatus; unionportal healthcheck --database: $db"

quiet pod stop -t 20 "$ctr" >/dev/null
code=$(pod inspect --format '{{.State.ExitCode}}' "$ctr")
if [ "$code" != 0 ]; then
	say "FAIL: after SIGTERM the portal exited with status $code, want 0"
	exit 1
fi
say "SIGTERM: stopped with status 0"
say "ok ($((SECONDS - start)) s)"
