# main.sh: prints the version and the installed dependencies.
echo "tally v1"
cat /app/vendor/installed.lock
