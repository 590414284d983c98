#!/usr/bin/env bash
# Make sure a MariaDB server answers on 127.0.0.1:3306 for the tests (root, empty
# password). On this project's machines one is installed and usually running; start it
# if it is not, install it only where it is missing. Never touches a server that answers.
set -euo pipefail
host=${MARIADB_HOST:-127.0.0.1}
port=${MARIADB_PORT:-3306}

answers() { mariadb-admin --host="$host" --port="$port" --user=root ping >/dev/null 2>&1; }

if command -v mariadb-admin >/dev/null && answers; then
    exit 0
fi
if ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "MariaDB is not installed and this is not root: MariaDB tests will be skipped." >&2
        exit 0
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null
fi
if [ "$(id -u)" = 0 ]; then
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
for _ in $(seq 1 60); do
    answers && exit 0
    sleep 0.5
done
echo "MariaDB did not answer on $host:$port: MariaDB tests will be skipped." >&2
