# unprivileged.sh - sourced by the guest test scripts: the monitor must not
# need root, so as root they run it as nobody.
unprivileged() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
	else
		"$@"
	fi
}
