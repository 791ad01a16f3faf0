#!/bin/sh
# Regenerates the grub.cfg files of the debian12, debian12-saved and ubuntu2204 trees with the
# host's real grub-mkconfig (grub-common), inside a private mount namespace so the host's
# /boot, /dev, /etc/default and grub tools are untouched. Needs root and grub-common.
#   unshare -m sh tests/trees/tools/regenerate-grub.sh OUTDIR
# then compare OUTDIR/*.cfg with the trees' boot/grub/grub.cfg.
set -e
tools=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: unshare -m sh regenerate-grub.sh OUTDIR}
mkdir -p "$out"
mount --make-rprivate /
mount -t tmpfs none /dev; mknod /dev/null c 1 3; chmod 666 /dev/null
mkdir -p /dev/disk/by-uuid
: > /dev/sda1; ln -s ../../sda1 /dev/disk/by-uuid/8b1f4e2c-5a3d-4c1e-9f7a-2d6b0e3c4a51
: > /dev/nvme0n1p2; ln -s ../../nvme0n1p2 /dev/disk/by-uuid/3f1b8c2a-7d4e-4b9a-a5c6-9e2d1f0b7c83
mount --bind "$tools/fake-grub-mkrelpath" /usr/bin/grub-mkrelpath
mount -t tmpfs none /etc/default

fake_boot() { # kernel versions, newest first
  umount /boot 2>/dev/null || true
  mount -t tmpfs none /boot; mkdir -p /boot/grub
  age=0
  for v in "$@"; do
    : > /boot/vmlinuz-$v; : > /boot/initrd.img-$v; : > /boot/config-$v
    touch -d "@$((1700000000 - age))" /boot/vmlinuz-$v; age=$((age + 86400))
  done
}

mount --bind "$tools/fake-grub-probe-debian" /usr/sbin/grub-probe
fake_boot 6.1.0-18-amd64 6.1.0-13-amd64
cp "$tools/default-grub-debian" /etc/default/grub
grub-mkconfig -o "$out/debian12.cfg"
cp "$tools/default-grub-debian-saved" /etc/default/grub
grub-mkconfig -o "$out/debian12-saved.cfg"
umount /usr/sbin/grub-probe

# Ubuntu builds the same scripts with its vendor switches on (quick_boot, vt_handoff, ...);
# ubuntu-10_linux.diff is that change plus friendly-recovery's recovery options.
cp -a /etc/grub.d "$out/grub.d-ubuntu"
sed -i 's/^quick_boot="0"/quick_boot="1"/' "$out/grub.d-ubuntu/00_header" "$out/grub.d-ubuntu/30_os-prober"
patch -s "$out/grub.d-ubuntu/10_linux" "$tools/ubuntu-10_linux.diff"
mount --bind "$out/grub.d-ubuntu" /etc/grub.d
mount --bind "$tools/fake-grub-probe-ubuntu" /usr/sbin/grub-probe
fake_boot 5.15.0-91-generic 5.15.0-88-generic
cp "$tools/default-grub-ubuntu" /etc/default/grub
PATH="$tools/bin:$PATH" grub-mkconfig -o "$out/ubuntu2204.cfg"
