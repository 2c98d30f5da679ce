#!/bin/sh
# Bundles the scripts under src/ into one executable file, dist/greet.
set -eu

for f in src/*.sh; do
	sh -n "$f" # refuse to bundle a script that does not parse
	echo "checked $f"
done

build=$(cat src/*.sh | sha256sum | cut -c1-12)
mkdir -p dist
{
	echo '#!/bin/sh'
	echo "GREET_BUILD=$build"
	cat src/lib.sh src/main.sh
} >dist/greet
chmod 755 dist/greet
echo "bundled dist/greet, build $build"
