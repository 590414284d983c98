#!/bin/bash
# The part of the official mariadb image's entrypoint contract this project relies on:
# on an empty data directory, initialise it, set the root password, create
# MARIADB_DATABASE and MARIADB_USER/MARIADB_PASSWORD, run /docker-entrypoint-initdb.d/*.sql
# (and *.sql.gz) into that database; then run the server on 0.0.0.0:3306.
# Works as root (drops to mysql) and as uid 999 (runAsUser in the StatefulSet).
set -euo pipefail
datadir=/var/lib/mysql
socket=/run/mysqld/mysqld.sock

if [ "${1:-}" != mariadbd ]; then
    exec "$@"
fi
shift

user_args=()
[ "$(id -u)" = 0 ] && user_args=(--user=mysql) && chown mysql:mysql "$datadir"

sql_quote() { printf "%s" "$1" | sed -e "s/\\\\/\\\\\\\\/g" -e "s/'/\\\\'/g"; }

if [ ! -d "$datadir/mysql" ]; then
    : "${MARIADB_ROOT_PASSWORD:?MARIADB_ROOT_PASSWORD must be set on first start}"
    echo "entrypoint: initialising $datadir" >&2
    mariadb-install-db "${user_args[@]}" --datadir="$datadir" --skip-test-db \
        --auth-root-authentication-method=normal >/dev/null
    mariadbd "${user_args[@]}" --datadir="$datadir" --skip-networking --socket="$socket" &
    pid=$!
    for _ in $(seq 1 100); do
        mariadb-admin --socket="$socket" ping >/dev/null 2>&1 && break
        sleep 0.2
    done
    root_pw=$(sql_quote "$MARIADB_ROOT_PASSWORD")
    {
        echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$root_pw';"
        echo "CREATE USER 'root'@'%' IDENTIFIED BY '$root_pw';"
        echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
        if [ -n "${MARIADB_DATABASE:-}" ]; then
            echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
        fi
        if [ -n "${MARIADB_USER:-}" ]; then
            echo "CREATE USER '$MARIADB_USER'@'%' IDENTIFIED BY '$(sql_quote "${MARIADB_PASSWORD:?}")';"
            [ -n "${MARIADB_DATABASE:-}" ] &&
                echo "GRANT ALL ON \`$MARIADB_DATABASE\`.* TO '$MARIADB_USER'@'%';"
        fi
    } | mariadb --socket="$socket" -uroot
    export MYSQL_PWD="$MARIADB_ROOT_PASSWORD"
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sql) echo "entrypoint: running $f" >&2
                mariadb --socket="$socket" -uroot ${MARIADB_DATABASE:+"$MARIADB_DATABASE"} <"$f" ;;
            *.sql.gz) echo "entrypoint: running $f" >&2
                gunzip -c "$f" | mariadb --socket="$socket" -uroot ${MARIADB_DATABASE:+"$MARIADB_DATABASE"} ;;
        esac
    done
    mariadb-admin --socket="$socket" -uroot shutdown
    unset MYSQL_PWD
    wait "$pid" || true
fi

exec mariadbd "${user_args[@]}" --datadir="$datadir" --socket="$socket" \
    --bind-address=0.0.0.0 --port=3306 --skip-name-resolve "$@"
