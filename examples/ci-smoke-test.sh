#!/bin/sh
# CI smoke test: retrieve one known study and fail unless all of it arrives.
#
# usage: ci-smoke-test.sh HOST PORT STUDY_INSTANCE_UID EXPECTED_OBJECTS
#
# Runs getscu (or movescu to itself) with --strict-exit and --summary-json,
# then compares the number of objects stored, read from the summary, with
# EXPECTED_OBJECTS.  A study that silently retrieves nothing, a warning, a
# refused or failed retrieval, an object that could not be written: each
# fails the job (docs/ci.md has the exit status table).
#
# Environment (all optional):
#   CALLED_AE   the peer's AE title                      (default ANY-SCP)
#   CALLING_AE  our AE title                             (default: the tool's)
#   TOOL        getscu or movescu                        (default getscu)
#   MOVE_PORT   movescu: the port it listens on for its own C-MOVE (required
#               with TOOL=movescu; the peer must know CALLING_AE at it)
#   OUTPUT_DIR  where the objects go                     (default: a new temporary directory)
#   SUMMARY     the summary file                         (default: OUTPUT_DIR/summary.json)
#   RETRIEVE    the command to run instead of "$TOOL"    (e.g. a path to getscu)
#   PYTHON      the interpreter that reads the summary   (default python3)
#
# Exit status: 0 all objects retrieved and stored; the tool's --strict-exit
# status when it failed (68 warning, 69 failure or nothing retrieved, 61 no
# association ...); 3 when the count differs; 2 usage error.

set -u

if [ $# -ne 4 ]; then
    echo "usage: $0 HOST PORT STUDY_INSTANCE_UID EXPECTED_OBJECTS" >&2
    exit 2
fi
host=$1 port=$2 study=$3 expected=$4
tool=${TOOL:-getscu}
retrieve=${RETRIEVE:-$tool}
python=${PYTHON:-python3}
out=${OUTPUT_DIR:-$(mktemp -d -t ci-smoke.XXXXXX)}
summary=${SUMMARY:-$out/summary.json}

set -- --strict-exit --summary-json "$summary" -S -aec "${CALLED_AE:-ANY-SCP}" -od "$out" \
    -k QueryRetrieveLevel=STUDY -k "StudyInstanceUID=$study"
if [ -n "${CALLING_AE:-}" ]; then
    set -- "$@" -aet "$CALLING_AE"
fi
case $tool in
    getscu) ;;
    movescu)
        if [ -z "${MOVE_PORT:-}" ]; then
            echo "$0: TOOL=movescu needs MOVE_PORT" >&2
            exit 2
        fi
        set -- "$@" --port "$MOVE_PORT" ;;
    *)
        echo "$0: TOOL must be getscu or movescu" >&2
        exit 2 ;;
esac

"$retrieve" "$@" "$host" "$port"
status=$?
if [ ! -f "$summary" ]; then
    echo "smoke test: $tool exited with $status and wrote no summary" >&2
    [ "$status" -ne 0 ] && exit "$status"
    exit 1
fi
stored=$("$python" -c 'import json, sys
print(json.load(open(sys.argv[1], encoding="utf-8"))["totals"]["objects_stored"])' "$summary") || exit 1
echo "smoke test: $tool exit status $status, $stored of $expected objects stored in $out"
if [ "$status" -ne 0 ]; then
    exit "$status"
fi
if [ "$stored" -ne "$expected" ]; then
    echo "smoke test: expected $expected objects, got $stored" >&2
    exit 3
fi
exit 0
