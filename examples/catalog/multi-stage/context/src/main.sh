# main.sh: the command line of greet.

case "${1:-}" in
--help | -h)
	usage
	exit 0
	;;
--version)
	echo "greet $GREET_BUILD"
	exit 0
	;;
esac

if [ "$#" -eq 0 ]; then
	greeting
fi
for name in "$@"; do
	greeting "$name"
done
