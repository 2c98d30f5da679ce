# lib.sh: helpers for greet.

# greeting prints the greeting for one name; "world" when none is given.
greeting() {
	printf 'Hello, %s!\n' "${1:-world}"
}

# usage explains the command line.
usage() {
	echo "usage: greet [--version] [NAME...]"
}
