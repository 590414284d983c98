#!/usr/bin/env bash
# Make sure a MariaDB server answers on 127.0.0.1:3306 for the tests (root, empty
# password). On this project's machines one is installed and usually running; start it
# if it is not, install it only where it is missing (as root). Never touches a server that
# answers. Fails (exit 1, with the server's own error) unless a real query succeeds:
# `mariadb-admin ping` also counts "Access denied" as alive, which a test cannot use.
set -euo pipefail
host=${MARIADB_HOST:-127.0.0.1}
port=${MARIADB_PORT:-3306}
user=${MARIADB_USER:-root}

query() { mariadb --host="$host" --port="$port" --user="$user" --connect-timeout=3 \
    --batch --skip-column-names --execute='SELECT 1' 2>&1; }
listening() { mariadb-admin --host="$host" --port="$port" --user="$user" \
    --connect-timeout=3 ping >/dev/null 2>&1; }
# The first line is the test that matters: a query answered "1".
usable() { [ "$(query | head -n 1)" = 1 ]; }
refuse() {
    echo "MariaDB on $host:$port answers but refuses the tests' query as $user: $(query)" >&2
    exit 1
}

if command -v mariadb >/dev/null; then
    usable && exit 0
    listening && refuse  # a server is there: starting another would not help
fi
if ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "MariaDB is not installed: run as root first: sudo bash scripts/install-test-deps.sh" >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server mariadb-client >/dev/null
fi
if [ "$(id -u)" = 0 ]; then
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
for _ in $(seq 1 60); do
    usable && exit 0
    listening && refuse
    sleep 0.5
done
echo "MariaDB did not answer on $host:$port: $(query)" >&2
exit 1
