#!/usr/bin/env bash
# Run the provisioned Godot 4 (plugins/godot/tools/provision_godot.sh) on a Godot project:
#
#   plugins/godot/tools/godot_chroot.sh PROJECT_DIR [godot arguments...]
#   plugins/godot/tools/godot_chroot.sh examples/godot-demo --headless --import
#
# PROJECT_DIR is bind-mounted at /project inside the chroot and Godot runs there with `--path /project`, so res://
# is that folder and files Godot writes land in it. Everything runs in a private mount namespace (unshare -m): /proc
# and the project are mounted only for this run, nothing stays mounted afterwards. The network namespace is the
# host's, so ws://127.0.0.1:PORT reaches a server started outside. Needs root.
set -euo pipefail

root="${PIXELSPRITE_GODOT_ROOT:-/opt/pixelsprite-godot}"
if [[ $# -lt 1 ]]; then
  echo "usage: $0 PROJECT_DIR [godot arguments...]" >&2
  exit 2
fi
project="$(cd "$1" && pwd)"
shift
if [[ ! -f "$root/.pixelsprite-godot-ready" ]]; then
  echo "no provisioned Godot at $root: run plugins/godot/tools/provision_godot.sh" >&2
  exit 3
fi

# Inside the new mount namespace: mount, then replace the shell with chroot + godot (its exit status is ours).
exec unshare --mount --propagation private -- /bin/sh -c '
  set -e
  root="$1"; project="$2"; shift 2
  mount -t proc proc "$root/proc"
  mkdir -p "$root/project"
  mount --bind "$project" "$root/project"
  exec chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin LANG=C.UTF-8 \
    godot --path /project "$@"
' sh "$root" "$project" "$@"
