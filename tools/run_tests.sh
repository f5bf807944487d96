#!/usr/bin/env bash
# The test suite in two lanes side by side: the ROS tests (marker `ros`, see tests/conftest.py) one
# after another as before, since they share the session's ROS domain and node names and their timing
# tolerances assume one graph at a time; meanwhile everything else (model training, datasets, sim
# without ROS, export), which is mostly CPU work while the ROS lane mostly waits on its graph.
# The second lane's report follows the first's; the exit status is the first failure's.
#
#   tools/run_tests.sh PYTHON [PYTEST ARGS...]     (make test: run inside dreamgen-ros-env)
#   TEST_LANES=1 tools/run_tests.sh ...             one pytest for everything, as plain pytest would
set -uo pipefail
python=$1
shift

if [[ "${TEST_LANES:-2}" == 1 ]]; then
    exec "$python" -m pytest "$@"
fi

other_log=$(mktemp -t dreamgen-tests-XXXXXX.log)
trap 'rm -f "$other_log"' EXIT
# Each lane stops at a suite with no test selected (exit 5), e.g. with -k: that is no failure here.
"$python" -m pytest -m "not ros" -p no:cacheprovider "$@" >"$other_log" 2>&1 &
other=$!
echo "tests: ROS lane here; the other lane (pid $other) reports after it"
"$python" -m pytest -m ros "$@"
ros_status=$?
wait "$other"
other_status=$?
echo
echo "==================== the lane without ROS ===================="
cat "$other_log"
for status in "$ros_status" "$other_status"; do
    if [[ "$status" != 0 && "$status" != 5 ]]; then
        exit "$status"
    fi
done
if [[ "$ros_status" == 5 && "$other_status" == 5 ]]; then
    exit 5  # nothing ran at all
fi
exit 0
