#!/bin/sh
# Runs the bundled program and compares what it prints with what it should.
set -eu

check() {
	want=$1
	shift
	got=$(dist/greet "$@")
	if [ "$got" != "$want" ]; then
		echo "FAIL: greet $*: got '$got', want '$want'" >&2
		exit 1
	fi
	echo "ok: greet $*"
}

check 'Hello, world!'
check 'Hello, Ada!' Ada
check "$(printf 'Hello, Ada!\nHello, Linus!')" Ada Linus
