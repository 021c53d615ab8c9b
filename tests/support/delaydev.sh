#!/usr/bin/env bash
# delaydev.sh - a real block device (loop on a FUSE file) whose per-request
# latency can be changed while I/O runs.  See README.md beside this file.
#
#   delaydev.sh up    WORKDIR SIZE_MB   -> prints the loop device name (e.g. loop3)
#   delaydev.sh delay WORKDIR MICROSECONDS
#   delaydev.sh down  WORKDIR           (idempotent, bounded in time)
#
# WORKDIR layout: delayfs (binary), backing.img, mnt/{disk.img,delay_us},
# delayfs.pid, delayfs.log, loopdev.  Needs root, /dev/fuse, fuse3,
# libfuse3-dev, gcc, pkg-config, util-linux (losetup, mountpoint).
set -euo pipefail

SUPPORT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC="$SUPPORT_DIR/delayfs.c"
MOUNT_WAIT_S=${DELAYDEV_MOUNT_WAIT_S:-10}

die() { echo "delaydev: $*" >&2; exit 1; }
warn() { echo "delaydev: $*" >&2; }
usage() {
	cat >&2 <<EOF
usage: $0 up WORKDIR SIZE_MB      (prints the loop device name, e.g. loop3)
       $0 delay WORKDIR MICROSECONDS
       $0 down WORKDIR
EOF
	exit 2
}

abspath() { realpath -m -- "$1"; }

# True if PATH is a mount point; reads /proc/self/mountinfo only, so it can
# not block on a wedged FUSE server (unlike stat-based `mountpoint`).
is_mounted() {
	awk -v p="$1" '$5 == p { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# True if PID is a delayfs process with any thread not yet dead (a
# multi-threaded process's leader turns zombie before its workers exit).
pid_alive() {
	local pid=$1 t state
	[[ $(cat "/proc/$pid/comm" 2>/dev/null) == delayfs ]] || return 1
	for t in /proc/"$pid"/task/*/stat; do
		state=$(awk '{ sub(/^.*\) /, ""); print $1 }' "$t" 2>/dev/null) || continue
		[[ -n $state && $state != Z && $state != X ]] && return 0
	done
	return 1
}

# Loop devices (e.g. /dev/loop3) still backed by WORKDIR's disk.img; sysfs
# only.  After a lazy unmount the kernel reports the backing path relative
# to the detached mount, so also trust the device recorded by `up`.
our_loops() {
	local wd=$1 f b dev
	for f in /sys/block/loop*/loop/backing_file; do
		[[ -r $f ]] || continue
		b=$(cat "$f" 2>/dev/null) || continue
		if [[ $b == "$wd/mnt/disk.img" || $b == "$wd/mnt/disk.img (deleted)" ]]; then
			f=${f#/sys/block/}
			echo "/dev/${f%%/*}"
		fi
	done
	dev=$(cat "$wd/loopdev" 2>/dev/null) || return 0
	b=$(cat "/sys/block/${dev#/dev/}/loop/backing_file" 2>/dev/null) || return 0
	if [[ $b != "$wd/mnt/disk.img"* && ($b == */disk.img || $b == */"disk.img (deleted)") ]]; then
		echo "$dev"
	fi
}

build() {
	local wd=$1
	if [[ -x $wd/delayfs && $wd/delayfs -nt $SRC ]]; then
		return 0
	fi
	[[ -r $SRC ]] || die "source not found: $SRC"
	command -v gcc >/dev/null || die "gcc not installed"
	command -v pkg-config >/dev/null || die "pkg-config not installed"
	pkg-config --exists fuse3 || die "fuse3 development files not found (apt-get install libfuse3-dev)"
	# shellcheck disable=SC2046
	gcc -O2 -Wall -o "$wd/delayfs.tmp" "$SRC" $(pkg-config fuse3 --cflags --libs) >&2 \
		|| die "failed to build delayfs"
	mv -f "$wd/delayfs.tmp" "$wd/delayfs"
}

cmd_up() {
	[[ $# -eq 2 ]] || usage
	local wd size pid i loop
	wd=$(abspath "$1")
	size=$2
	[[ $size =~ ^[1-9][0-9]*$ ]] || die "SIZE_MB must be a positive integer, got '$size'"
	[[ $wd != *[[:space:]]* ]] || die "WORKDIR must not contain whitespace: '$wd'"
	[[ $(id -u) -eq 0 ]] || die "must run as root (losetup)"
	[[ -c /dev/fuse ]] || die "/dev/fuse missing: FUSE is not available"
	command -v losetup >/dev/null || die "losetup not installed"
	command -v fusermount3 >/dev/null || die "fusermount3 not installed (apt-get install fuse3)"

	mkdir -p "$wd/mnt" || die "cannot create $wd/mnt"
	if is_mounted "$wd/mnt"; then
		die "$wd/mnt is already mounted; run '$0 down $wd' first"
	fi
	build "$wd"

	rm -f "$wd/backing.img"
	if ! fallocate -l "${size}M" "$wd/backing.img" 2>/dev/null; then
		dd if=/dev/zero of="$wd/backing.img" bs=1M count="$size" status=none \
			|| die "cannot create $wd/backing.img"
	fi

	# Own session, stdio detached, so callers doing $(delaydev.sh up ...)
	# don't wait on the daemon's inherited stdout.
	setsid "$wd/delayfs" "$wd/backing.img" "$wd/mnt" -f \
		</dev/null >"$wd/delayfs.log" 2>&1 &
	pid=$!
	echo "$pid" >"$wd/delayfs.pid"

	for ((i = 0; i < MOUNT_WAIT_S * 20; i++)); do
		is_mounted "$wd/mnt" && break
		if ! pid_alive "$pid"; then
			warn "delayfs exited before mounting; log:"
			cat "$wd/delayfs.log" >&2 || true
			cmd_down "$wd" >/dev/null 2>&1 || true
			exit 1
		fi
		sleep 0.05
	done
	if ! is_mounted "$wd/mnt"; then
		warn "delayfs did not mount $wd/mnt within ${MOUNT_WAIT_S}s; log:"
		cat "$wd/delayfs.log" >&2 || true
		cmd_down "$wd" >/dev/null 2>&1 || true
		exit 1
	fi

	# --direct-io=on is essential: a buffered loop device funnels I/O
	# through the page cache and a single worker, so the queue depth seen by
	# delayfs (and the delay's effect on IOPS) would not match the caller's.
	if ! loop=$(timeout 10 losetup --find --show --direct-io=on "$wd/mnt/disk.img" 2>"$wd/losetup.err"); then
		warn "losetup --direct-io=on failed: $(cat "$wd/losetup.err")"
		cmd_down "$wd" >/dev/null 2>&1 || true
		exit 1
	fi
	rm -f "$wd/losetup.err"
	echo "$loop" >"$wd/loopdev"
	if [[ $(cat "/sys/block/${loop#/dev/}/loop/dio" 2>/dev/null) != 1 ]]; then
		warn "$loop did not enable direct I/O (sysfs loop/dio != 1)"
		cmd_down "$wd" >/dev/null 2>&1 || true
		exit 1
	fi
	echo "${loop#/dev/}"
}

cmd_delay() {
	[[ $# -eq 2 ]] || usage
	local wd us got
	wd=$(abspath "$1")
	us=$2
	[[ $us =~ ^[0-9]+$ ]] || die "MICROSECONDS must be a non-negative integer, got '$us'"
	is_mounted "$wd/mnt" || die "$wd/mnt is not mounted (run '$0 up' first)"
	timeout 5 bash -c 'printf "%s\n" "$1" >"$2"' _ "$us" "$wd/mnt/delay_us" \
		|| die "cannot set delay to $us us (valid range 0..60000000)"
	got=$(timeout 5 cat "$wd/mnt/delay_us") || die "cannot read back $wd/mnt/delay_us"
	[[ $got == "$us" ]] || die "delay readback mismatch: wrote $us, read '$got'"
}

cmd_down() {
	[[ $# -eq 1 ]] || usage
	local wd pid loop i rc=0 loops=()
	wd=$(abspath "$1")
	pid=$(cat "$wd/delayfs.pid" 2>/dev/null || true)

	# Drain quickly: no more sleeping in the FUSE handlers.
	if is_mounted "$wd/mnt"; then
		timeout 2 bash -c 'echo 0 >"$1"' _ "$wd/mnt/delay_us" 2>/dev/null || true
	fi

	mapfile -t loops < <(our_loops "$wd")
	for loop in "${loops[@]}"; do
		timeout 10 losetup -d "$loop" 2>/dev/null || true
	done
	# losetup -d on a device someone holds open only sets autoclear: it goes
	# away when the last holder closes it.  Wait (bounded), then carry on:
	# once delayfs is gone the holder's I/O fails and it usually lets go.
	for ((i = 0; i < 60; i++)); do
		[[ -z $(our_loops "$wd") ]] && break
		sleep 0.05
	done
	if [[ -n $(our_loops "$wd") ]]; then
		warn "loop device(s) still in use, detaching lazily: $(our_loops "$wd" | tr '\n' ' ')"
	fi

	if is_mounted "$wd/mnt"; then
		timeout 5 fusermount3 -u "$wd/mnt" 2>/dev/null \
			|| timeout 5 umount -l "$wd/mnt" 2>/dev/null || true
	fi

	if [[ -n $pid ]] && pid_alive "$pid"; then
		# fuse_main exits (and unmounts) on SIGTERM.
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 60; i++)); do
			pid_alive "$pid" || break
			sleep 0.05
		done
		if pid_alive "$pid"; then
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.2
		fi
	fi
	if is_mounted "$wd/mnt"; then
		timeout 5 umount -l "$wd/mnt" 2>/dev/null || true
	fi
	for ((i = 0; i < 40; i++)); do
		[[ -z $(our_loops "$wd") ]] && break
		sleep 0.05
	done
	if [[ -n $(our_loops "$wd") ]]; then
		warn "loop device(s) still attached (held open by another process?): $(our_loops "$wd" | tr '\n' ' ')"
		rc=1
	fi
	if is_mounted "$wd/mnt"; then
		warn "$wd/mnt is still mounted"
		rc=1
	fi
	if [[ -n $pid ]] && pid_alive "$pid"; then
		warn "delayfs (pid $pid) is still running"
		rc=1
	fi
	if [[ $rc -eq 0 ]]; then
		rm -f "$wd/delayfs.pid" "$wd/loopdev"
	fi
	return "$rc"
}

[[ $# -ge 1 ]] || usage
sub=$1
shift
case $sub in
up) cmd_up "$@" ;;
delay) cmd_delay "$@" ;;
down) cmd_down "$@" ;;
*) usage ;;
esac
