#!/usr/bin/env bash
# Provision a real Godot 4 for the Godot plugin's tests: a Debian sid chroot (Godot 4 is not in Debian stable) with
# Debian's `godot` package, cached OUTSIDE the repository and reused.
# Xvfb and Mesa's software OpenGL come along, for the test that runs the editor in a window (dock_screenshot.py).
#
#   plugins/godot/tools/provision_godot.sh            # -> /opt/pixelsprite-godot (or $PIXELSPRITE_GODOT_ROOT)
#
# Idempotent: a finished chroot (marked by ROOT/.pixelsprite-godot-ready) is reused as is, in well under a second.
# A partial build lives in ROOT.partial and is only renamed to ROOT when Godot runs, so an interrupted run never leaves a
# broken cache behind. Needs root (debootstrap, chroot) and network to a Debian mirror; the first run takes a few
# minutes (debootstrap about 1-2, `apt-get install godot` about 1, about 1 GB on disk).
#
# Run Godot with plugins/godot/tools/godot_chroot.sh (a private mount namespace: /proc and the project bind-mounted,
# nothing left mounted afterwards).
set -euo pipefail

root="${PIXELSPRITE_GODOT_ROOT:-/opt/pixelsprite-godot}"
marker="$root/.pixelsprite-godot-ready"
suite="${PIXELSPRITE_GODOT_SUITE:-sid}"

if [[ -f "$marker" ]]; then
  echo "pixelsprite-godot: reusing $root ($(cat "$marker"))"
  exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
  echo "pixelsprite-godot: needs root (debootstrap and chroot); run as root or set PIXELSPRITE_GODOT_ROOT to a ready chroot" >&2
  exit 1
fi

# The mirror apt already uses (deb822 or one-line sources), else deb.debian.org.
mirror="${PIXELSPRITE_DEBIAN_MIRROR:-}"
if [[ -z "$mirror" ]]; then
  mirror="$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list \
    | grep -v -- '-security' | head -n1 | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' | awk '{print $1}' || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

apt_wait=(-o DPkg::Lock::Timeout=600)
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "pixelsprite-godot: installing debootstrap"
  apt-get "${apt_wait[@]}" install -y -qq --no-install-recommends debootstrap >/dev/null 2>&1 \
    || { apt-get "${apt_wait[@]}" update -qq && apt-get "${apt_wait[@]}" install -y -qq --no-install-recommends debootstrap >/dev/null; }
fi

partial="$root.partial"
# An earlier interrupted run may have left /proc mounted inside the partial tree.
if mountpoint -q "$partial/proc" 2>/dev/null; then umount -l "$partial/proc"; fi
rm -rf "$partial"
mkdir -p "$(dirname "$root")"

start=$SECONDS
echo "pixelsprite-godot: debootstrap $suite from $mirror into $partial"
debootstrap --variant=minbase "$suite" "$partial" "$mirror" >"$partial.log" 2>&1 \
  || { tail -n 30 "$partial.log" >&2; exit 1; }
echo "pixelsprite-godot: debootstrap done in $((SECONDS - start)) s"

cp /etc/resolv.conf "$partial/etc/resolv.conf" 2>/dev/null || true
mount -t proc proc "$partial/proc"
trap 'umount -l "$partial/proc" 2>/dev/null || true' EXIT
chroot "$partial" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive sh -c '
  apt-get -qq -o Acquire::Check-Valid-Until=false update &&
  apt-get -qq -y --no-install-recommends install godot ca-certificates xvfb xauth libgl1-mesa-dri libglx-mesa0 \
    libegl-mesa0 fonts-dejavu-core >/dev/null &&
  apt-get clean' >>"$partial.log" 2>&1 || { tail -n 30 "$partial.log" >&2; exit 1; }
version="$(chroot "$partial" /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin godot --headless --version 2>/dev/null | tail -n1)"
umount -l "$partial/proc"
trap - EXIT
if [[ -z "$version" ]]; then
  echo "pixelsprite-godot: godot installed but does not run" >&2
  exit 1
fi
mkdir -p "$partial/project"
echo "godot $version, provisioned $(date -u +%Y-%m-%dT%H:%M:%SZ) in $((SECONDS - start)) s" >"$partial/.pixelsprite-godot-ready"
rm -rf "$root"
mv "$partial" "$root"
mv "$partial.log" "$root.log" 2>/dev/null || true
echo "pixelsprite-godot: ready at $root: $(cat "$marker")"
