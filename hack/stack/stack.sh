#!/usr/bin/env bash
# Readside local development stack: PostgreSQL 15, Redis and a single-node Apache Kafka (KRaft)
# on 127.0.0.1, for unit/integration/e2e tests and the dev loop. See hack/stack/README.md.
#
#   hack/stack/stack.sh up | down | status | env | install | clean [--all]
#   hack/stack/stack.sh start|stop|restart [postgres|redis|kafka ...]
#   hack/stack/stack.sh logs NAME [LINES] | kafka-topics ARGS... | kafka-run-class CLASS ARGS...
#
# Every command is idempotent. All state lives in <repo>/.local/stack (git-ignored); the repo
# root is derived from this file's location, so the script works from any cwd.
set -euo pipefail

# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------
SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd -P)

# Ports: READSIDE_*_PORT when set; else the ports this clone's stack recorded when it drew
# free ones (see choose_ports); else the defaults.
PORTS_FILE=$REPO_ROOT/.local/stack/ports.env
RECORDED_PG_PORT="" RECORDED_REDIS_PORT="" RECORDED_KAFKA_PORT="" RECORDED_KAFKA_CONTROLLER_PORT=""
# shellcheck source=/dev/null  # written by record_ports below
[[ ! -f $PORTS_FILE ]] || source "$PORTS_FILE"
PG_PORT=${READSIDE_PG_PORT:-${RECORDED_PG_PORT:-55432}}
REDIS_PORT=${READSIDE_REDIS_PORT:-${RECORDED_REDIS_PORT:-56379}}
KAFKA_PORT=${READSIDE_KAFKA_PORT:-${RECORDED_KAFKA_PORT:-59092}}
if [[ -n ${READSIDE_KAFKA_PORT-} ]]; then
    KAFKA_CONTROLLER_PORT=${READSIDE_KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
else
    KAFKA_CONTROLLER_PORT=${READSIDE_KAFKA_CONTROLLER_PORT:-${RECORDED_KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}}
fi
# Deadline (seconds) for each server to become ready. Generous: the box may be busy compiling.
TIMEOUT=${READSIDE_STACK_TIMEOUT:-120}

PG_BIN=${READSIDE_PG_BIN:-/usr/lib/postgresql/15/bin}
DB_NAME=readside DB_USER=readside DB_PASSWORD=readside
PG_SUPERUSER=postgres   # bootstrap superuser; only reachable over the unix socket (trust)

STATE=$REPO_ROOT/.local/stack
LOCK_FILE=$REPO_ROOT/.local/stack.lock  # outside $STATE so `clean` can delete $STATE under it
LOG_DIR=$STATE/logs
RUN_DIR=$STATE/run                       # pid files of redis and kafka
PG_HOME=$STATE/postgres                  # owned by whoever runs postgres; also the socket dir
PG_DATA=$PG_HOME/data
REDIS_HOME=$STATE/redis
KAFKA_HOME=$STATE/kafka
KAFKA_DIST=$STATE/dist/kafka             # jars copied from ~/.m2; survives `clean` (not --all)
KAFKA_POM=$SCRIPT_DIR/kafka/pom.xml

SERVERS=(postgres redis kafka)

# shellcheck source=hack/stack/secure.sh
source "$SCRIPT_DIR/secure.sh"

# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------
say() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: ERROR: %s\n' "$*" >&2; exit 1; }

# Print the last lines of the given log files (for failures).
show_logs() {
    local f
    for f in "$@"; do
        [[ -s $f ]] || continue
        printf -- '----- last 40 lines of %s -----\n' "$f" >&2
        tail -n 40 -- "$f" >&2
        # Java stack traces can push the actual message out of those 40 lines.
        if grep -qE '(ERROR|FATAL|PANIC)' -- "$f"; then
            printf -- '----- last error lines of %s -----\n' "$f" >&2
            grep -E -A1 '(ERROR|FATAL|PANIC)' -- "$f" | tail -n 8 >&2
        fi
        printf -- '-----\n' >&2
    done
}

# True if something accepts TCP connections on 127.0.0.1:$1 (bash's /dev/tcp, no extra tools).
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Our servers are recognised by pid + process name + working directory: each one runs with
# cwd = its own state dir. This guards against pid reuse after a reboot or a kill -9, which
# would otherwise make a stale pid file look alive (as root, kill -0 succeeds on anything).
pid_is() {  # pid_is PID COMM DIR
    local pid=$1 comm=$2 dir=$3
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/comm && $(<"/proc/$pid/comm") == "$comm" ]] || return 1
    [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$dir" ]]
}

# Start "$@" fully detached (new session, stdin from /dev/null, output appended to LOG) with
# cwd DIR, and write its pid to PIDFILE. The server outlives the calling shell, and Ctrl-C in a
# terminal running a test does not reach it. fd 9 (our lock) is not inherited.
launch() {  # launch DIR LOG PIDFILE CMD...
    local dir=$1 log=$2 pidfile=$3
    shift 3
    rm -f -- "$pidfile"
    (
        cd -- "$dir"
        # shellcheck disable=SC2016  # $$ and $@ expand in the inner shell
        exec setsid bash -c 'echo $$ >"$0" && exec "$@"' "$pidfile" "$@" \
            </dev/null >>"$log" 2>&1 9>&-
    ) &
    local i
    for ((i = 0; i < 50; i++)); do [[ -s $pidfile ]] && return 0; sleep 0.1; done
    die "could not start: $*"
}

# True while PID exists and has not exited. An exited server whose parent is gone stays a
# zombie until PID 1 reaps it, which some init systems do only every second or two; a zombie
# holds no ports or files, so it counts as stopped.
pid_alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }   # drop "pid (comm) "; the state letter comes next
    [[ ${stat:0:1} != Z ]]
}

# Send SIGNAL to PID and wait up to SECONDS for it to exit; SIGKILL as a last resort.
stop_pid() {  # stop_pid NAME PID SIGNAL SECONDS
    local name=$1 pid=$2 sig=$3 secs=$4 i
    kill "-$sig" "$pid" 2>/dev/null || return 0
    for ((i = 0; i < secs * 10; i++)); do
        pid_alive "$pid" || return 0
        sleep 0.1
    done
    say "$name (pid $pid) did not stop within ${secs}s after SIG$sig; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
}

# True if a server could bind 127.0.0.1:PORT right now, with SO_REUSEADDR as all three do.
# (perl-base is part of every Debian system; without perl we just let the server try.)
port_bindable() {
    command -v perl >/dev/null || return 0
    # shellcheck disable=SC2016  # perl code
    perl -MSocket -e 'socket(my $s, PF_INET, SOCK_STREAM, 0) or exit 0;
        setsockopt($s, SOL_SOCKET, SO_REUSEADDR, 1);
        exit(bind($s, sockaddr_in($ARGV[0], inet_aton("127.0.0.1"))) ? 0 : 1)' "$1"
}

# Refuse to start a server on a port that something else listens on. If the port is merely
# held by a closing client connection (TIME_WAIT of an outgoing connection that got it as
# its source port, see reserve_ports), wait for that to expire (60s on Linux).
check_port_free() {  # check_port_free NAME PORT
    local name=$1 port=$2 deadline=$((SECONDS + 75)) noted=""
    if port_open "$port"; then
        die "$name: 127.0.0.1:$port is already in use by another process (not this repo's" \
            "$name). Stop it, or choose other ports with READSIDE_PG_PORT/_REDIS_PORT/_KAFKA_PORT."
    fi
    until port_bindable "$port"; do
        if [[ -z $noted ]]; then
            say "$name: 127.0.0.1:$port is held by a closing connection; waiting for it (<= 75s)"
            noted=1
        fi
        if ((SECONDS >= deadline)); then
            ss -tanp "sport = :$port" >&2 || true
            die "$name: cannot bind 127.0.0.1:$port (see the sockets above)"
        fi
        sleep 1
    done
}

# A port the kernel considers free right now (bound to 0 and released).
draw_port() {
    perl -MSocket -e 'socket(my $s, PF_INET, SOCK_STREAM, 0) or die;
        bind($s, sockaddr_in(0, inet_aton("127.0.0.1"))) or die;
        print((sockaddr_in(getsockname($s)))[0], "\n")'
}

# With READSIDE_STACK_PORTS=free (the test kit sets it, so `make test` and `make e2e` run
# beside another clone's `make up`): when none of this clone's servers runs, no port was
# chosen explicitly or recorded, and a default port is held by another process, draw four
# free ports and record them in $PORTS_FILE, so every later command of this clone (env,
# restart, down, make up) uses the same ones. `clean` forgets them.
choose_ports() {
    [[ ${READSIDE_STACK_PORTS-} == free ]] || return 0
    [[ -z ${READSIDE_PG_PORT-}${READSIDE_REDIS_PORT-}${READSIDE_KAFKA_PORT-} ]] || return 0
    [[ ! -f $PORTS_FILE ]] || return 0
    local n p held=""
    for n in "${SERVERS[@]}"; do
        ! server_pid "$n" >/dev/null || return 0
    done
    for p in "$PG_PORT" "$REDIS_PORT" "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
        ! port_open "$p" || held="$held $p"
    done
    [[ -n $held ]] || return 0
    PG_PORT=$(draw_port) REDIS_PORT=$(draw_port) KAFKA_PORT=$(draw_port)
    KAFKA_CONTROLLER_PORT=$(draw_port)
    secure_ports
    mkdir -p -- "$STATE"
    printf 'RECORDED_%s=%s\n' PG_PORT "$PG_PORT" REDIS_PORT "$REDIS_PORT" \
        KAFKA_PORT "$KAFKA_PORT" KAFKA_CONTROLLER_PORT "$KAFKA_CONTROLLER_PORT" >"$PORTS_FILE"
    say "127.0.0.1 port(s)$held held by another process: this clone's stack uses" \
        "PostgreSQL $PG_PORT, Redis $REDIS_PORT, Kafka $KAFKA_PORT (recorded in $PORTS_FILE)"
}

# Our fixed ports lie inside Linux's ephemeral port range (32768-60999 by default). While a
# server is stopped (a test doing `stop redis` ... `start redis`), the kernel may give its
# port to any outgoing connection as the source port; when that connection closes, its
# TIME_WAIT blocks the server's bind() for 60s ("Address already in use"). This happens
# readily under load (benchmarks, reconnect loops). net.ipv4.ip_local_reserved_ports takes
# ports out of automatic assignment (explicit binds still work), so reserve ours. Best effort:
# needs root and a writable /proc/sys (not in most containers); not persistent across
# reboots, so every start re-applies it; only ever adds ports to the list.
reserve_ports() {  # reserve_ports PORT...
    local f=/proc/sys/net/ipv4/ip_local_reserved_ports lo hi p cur new
    local -a missing=()
    [[ -r $f && -r /proc/sys/net/ipv4/ip_local_port_range ]] || return 0
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
    cur=$(<"$f")
    for p in "$@"; do
        ((p >= lo && p <= hi)) || continue
        port_listed "$p" "$cur" || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    new=$(IFS=,; printf '%s' "${missing[*]}")
    new=${cur:+$cur,}$new
    if ((EUID == 0)) && { printf '%s\n' "$new" >"$f"; } 2>/dev/null; then
        say "reserved ports ${missing[*]} (sysctl net.ipv4.ip_local_reserved_ports), so the" \
            "kernel never hands them to outgoing connections"
    else
        say "note: could not reserve ports ${missing[*]} (needs root); restarting a server" \
            "may have to wait for closing connections that took its port"
    fi
}

port_listed() {  # port_listed PORT "LIST" (the sysctl's format: 1,5-9,...)
    local item
    local -a items
    IFS=, read -r -a items <<<"$2"
    for item in "${items[@]}"; do
        (($1 >= ${item%-*} && $1 <= ${item#*-})) && return 0
    done
    return 1
}

as_root() {
    if ((EUID == 0)); then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root to run: $*"; fi
}

# Serialise state-changing commands (e.g. two test runners calling `up` at once).
take_lock() {
    (umask 022 && mkdir -p -- "${LOCK_FILE%/*}")
    exec 9>"$LOCK_FILE"
    flock -w "$((TIMEOUT * 3))" 9 || die "another stack.sh holds $LOCK_FILE for too long"
}

make_dirs() {
    # umask 022: CI may run with 077, but the postgres user must traverse these (see pg_mode).
    (umask 022 && mkdir -p -- "$STATE" "$LOG_DIR" "$RUN_DIR" "$REDIS_HOME" "$KAFKA_HOME")
}

# ---------------------------------------------------------------------------------------------
# install: Debian packages and Kafka jars, only what is missing
# ---------------------------------------------------------------------------------------------
install_packages() {
    local -a missing=()
    [[ -x $PG_BIN/postgres && -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl && -x $PG_BIN/psql ]] ||
        missing+=(postgresql)
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
        missing+=(redis-server)
    command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
    command -v mvn >/dev/null || missing+=(maven)
    ((${#missing[@]})) || return 0

    say "installing Debian packages: ${missing[*]}"
    # Lock timeout: another engineer's apt-get may be running. Note: the packages also enable
    # their system-wide services (5432, 6379); we never use or touch those.
    local -a apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=300)
    # A failing update (one unreachable mirror) need not be fatal: install may still succeed.
    as_root "${apt[@]}" update >/dev/null || say "apt-get update failed; trying install anyway"
    as_root "${apt[@]}" install --no-install-recommends "${missing[@]}" >/dev/null
}

# The jars are copied out of the Maven cache by `mvn dependency:copy-dependencies`, into a
# fresh dir that replaces the old one only on success; a stamp (the pom's hash) tells whether
# the current jars match hack/stack/kafka/pom.xml.
install_kafka() {
    local want have=""
    want=$(sha256sum <"$KAFKA_POM" | cut -d' ' -f1)
    [[ -f $KAFKA_DIST/stamp ]] && have=$(<"$KAFKA_DIST/stamp")
    [[ $want == "$have" && -d $KAFKA_DIST/jars ]] && return 0

    say "fetching Kafka jars with Maven (cache: ~/.m2)"
    local work=$STATE/dist/kafka.tmp
    rm -rf -- "$work"
    mkdir -p -- "$work"
    cp -- "$KAFKA_POM" "$work/pom.xml"   # build in .local so Maven leaves nothing in hack/
    if ! (cd -- "$work" && mvn -B -q dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="$work/jars" >"$work/mvn.log" 2>&1 9>&-); then
        show_logs "$work/mvn.log"
        die "mvn could not fetch the Kafka jars (see above)"
    fi
    printf '%s\n' "$want" >"$work/stamp"
    rm -rf -- "$KAFKA_DIST"
    mv -- "$work" "$KAFKA_DIST"
}

cmd_install() {
    install_packages
    make_dirs
    install_kafka
}

# Cheap test used by `up` so a warm start does not even start Maven.
installed() {
    [[ -x $PG_BIN/postgres ]] && command -v redis-server >/dev/null &&
        command -v java >/dev/null && [[ -f $KAFKA_DIST/stamp && -d $KAFKA_DIST/jars ]] &&
        [[ $(<"$KAFKA_DIST/stamp") == "$(sha256sum <"$KAFKA_POM" | cut -d' ' -f1)" ]]
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL
#
# PostgreSQL (initdb, pg_ctl, postgres) refuses to run as root. When we are root, pg_mode picks:
#   userns : run it in a fresh user namespace in which our uid 0 is mapped to the `postgres`
#            uid. PostgreSQL sees a non-root euid and a data dir owned by "itself", while the
#            kernel still checks file access as root. So it works from any checkout, including
#            a `mktemp -d` clone (a 0700 root-owned parent the postgres user cannot traverse),
#            without changing permissions outside the repo, and all files stay root-owned
#            (plain `rm -rf .local` works). Needs user namespaces (normal on VMs; often
#            blocked inside Docker by seccomp), so it is probed first.
#   pguser : fallback: run as the real `postgres` user. Then every directory above the data
#            dir must be searchable by it, so we grant exactly that (ACL u:postgres:x, or o+x
#            where setfacl is missing) on the directories that lack it, and say so.
#   self   : not root: run as ourselves.
# ---------------------------------------------------------------------------------------------
# READSIDE_PG_RUNAS=userns|postgres forces a mode (e.g. to test the fallback); default: auto.
PG_MODE=""
pg_mode() {
    [[ -n $PG_MODE ]] && return 0
    local want=${READSIDE_PG_RUNAS:-auto}
    if ((EUID != 0)); then
        PG_MODE=self
        return 0
    fi
    id -u postgres >/dev/null 2>&1 ||
        die "postgres: running as root, but there is no 'postgres' user (is postgresql installed?)"
    case $want in
        auto | userns)
            if unshare --user --map-user="$(id -u postgres)" --map-group="$(id -g postgres)" \
                true 2>/dev/null; then
                PG_MODE=userns
            elif [[ $want == userns ]]; then
                die "postgres: READSIDE_PG_RUNAS=userns, but user namespaces are not available"
            else
                PG_MODE=pguser
            fi
            ;;
        postgres) PG_MODE=pguser ;;
        *) die "READSIDE_PG_RUNAS must be auto, userns or postgres (got '$want')" ;;
    esac
}

# Run a PostgreSQL server binary with the identity chosen by pg_mode, cwd = PG_HOME.
pg_run() {
    pg_mode
    case $PG_MODE in
        self) (cd -- "$PG_HOME" && exec "$@") ;;
        userns) (cd -- "$PG_HOME" && exec unshare --user --map-user="$(id -u postgres)" \
            --map-group="$(id -g postgres)" -- "$@") ;;
        pguser) (cd -- "$PG_HOME" && exec setpriv --reuid=postgres --regid=postgres \
            --init-groups -- "$@") ;;
    esac
}

# pguser mode only: make sure the postgres user can reach PG_HOME (see above).
pg_grant_traverse() {
    setpriv --reuid=postgres --regid=postgres --init-groups -- test -x "$PG_HOME" && return 0
    local dir=/ part
    local -a parts
    IFS=/ read -r -a parts <<<"${PG_HOME#/}"
    for part in "${parts[@]}"; do
        dir=${dir%/}/$part
        setpriv --reuid=postgres --regid=postgres --init-groups -- test -x "$dir" && continue
        if command -v setfacl >/dev/null && setfacl -m u:postgres:x -- "$dir" 2>/dev/null; then
            say "postgres: granted search permission on $dir to user postgres (ACL)"
        else
            chmod o+x -- "$dir"
            say "postgres: made $dir searchable by others (o+x) so user postgres can reach data"
        fi
    done
}

# Create PG_HOME with the owner the current mode needs (fixes it if the mode changed).
pg_prepare_home() {
    pg_mode
    local owner=root
    [[ $PG_MODE == pguser ]] && owner=postgres
    [[ $PG_MODE == self ]] && owner=$(id -un)
    mkdir -p -- "$PG_HOME"
    if [[ $(stat -c %U -- "$PG_HOME") != "$owner" ]]; then
        chown -R "$owner:" -- "$PG_HOME"
    fi
    chmod 0700 -- "$PG_HOME"
    [[ $PG_MODE == pguser ]] && pg_grant_traverse
    return 0
}

# Unix socket directory: PG_HOME, unless that path is too long for a socket (107 bytes), as
# happens in deep CI workspaces; then a short per-repo directory in /tmp.
pg_socket_dir() {
    local dir=$PG_HOME
    if ((${#dir} + 20 > 107)); then
        dir=/tmp/readside-pg-$(printf '%s' "$STATE" | sha256sum | cut -c1-12)
    fi
    printf '%s\n' "$dir"
}

pg_pid() {  # prints the postmaster pid if this repo's postgres is running
    local pid
    [[ -r $PG_DATA/postmaster.pid ]] || return 1
    pid=$(head -n1 -- "$PG_DATA/postmaster.pid")
    pid_is "$pid" postgres "$PG_DATA" && printf '%s\n' "$pid"
}

# psql as the superuser over the unix socket (trust); the app uses TCP + password.
pg_psql() {
    PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
        "host=$(pg_socket_dir) port=$PG_PORT user=$PG_SUPERUSER dbname=postgres" "$@"
}

pg_quote() { printf "'%s'" "${1//\'/\'\'}"; }  # a postgresql.conf string literal

pg_initdb() {
    [[ -f $PG_DATA/PG_VERSION ]] && return 0
    say "postgres: initdb $PG_DATA"
    # Initialise into a temporary dir and rename, so an interrupted initdb never leaves a
    # half-made data dir behind that later runs would trip over.
    rm -rf -- "$PG_DATA.tmp"
    if ! pg_run "$PG_BIN/initdb" -D "$PG_DATA.tmp" -U "$PG_SUPERUSER" --encoding=UTF8 \
        --locale=C --auth-local=trust --auth-host=scram-sha-256 \
        >"$LOG_DIR/initdb.log" 2>&1 9>&-; then
        show_logs "$LOG_DIR/initdb.log"
        die "postgres: initdb failed"
    fi
    # Our settings live in readside.conf (rewritten on each start, so port changes apply).
    printf "\ninclude_if_exists = 'readside.conf'\n" >>"$PG_DATA.tmp/postgresql.conf"
    mv -- "$PG_DATA.tmp" "$PG_DATA"
}

pg_write_conf() {
    local sock
    sock=$(pg_socket_dir)
    cat >"$PG_DATA/readside.conf" <<EOF
# Written by hack/stack/stack.sh on every start; edit the script, not this file.
# Dev/test box tuning. fsync stays on: crash-safety behaves like production.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = $(pg_quote "$sock")
max_connections = 200
shared_buffers = 256MB
# A projection writes 1.3-1.8 KB of WAL per event (docs/benchmarks.md): with the default 1GB a
# checkpoint started every two minutes at 2,000 events/s, and the full-page images after each
# one made commits wait (the freshness tail). Production write paths are tuned the same way.
max_wal_size = 4GB
checkpoint_timeout = 15min
wal_compression = on
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    [[ $PG_MODE == pguser ]] && chown postgres: "$PG_DATA/readside.conf"
    return 0
}

pg_launch() {
    check_port_free postgres "$PG_PORT"
    pg_prepare_home
    pg_initdb
    pg_write_conf
    secure_pg_conf
    local sock
    sock=$(pg_socket_dir)
    if [[ $sock != "$PG_HOME" ]]; then
        mkdir -p -- "$sock"
        chmod 0700 -- "$sock"
        if [[ $PG_MODE == pguser ]]; then chown postgres: -- "$sock"; fi
    fi
    # A postmaster.pid (or socket lock) left by a crash/reboot whose pid now belongs to another
    # process makes postgres refuse to start ("lock file already exists"); pg_pid said it is
    # not ours, so remove them.
    rm -f -- "$PG_DATA/postmaster.pid" "$sock/.s.PGSQL.$PG_PORT.lock"
    say "postgres: starting on 127.0.0.1:$PG_PORT"
    # pg_ctl detaches the postmaster (fork + setsid). Without -l, the postmaster inherits our
    # stdout, i.e. the log file opened here by us, so the log needs no permission juggling.
    if ! pg_run "$PG_BIN/pg_ctl" -D "$PG_DATA" -W start \
        </dev/null >>"$LOG_DIR/postgres.log" 2>&1 9>&-; then
        show_logs "$LOG_DIR/postgres.log"
        die "postgres: pg_ctl start failed"
    fi
}

pg_ready() { [[ $(pg_psql -Atc 'select 1' 2>/dev/null) == 1 ]]; }

pg_wait() {
    local deadline=$((SECONDS + TIMEOUT))
    until pg_ready; do
        if ((SECONDS >= deadline)); then
            show_logs "$LOG_DIR/postgres.log"
            die "postgres: not accepting queries on port $PG_PORT after ${TIMEOUT}s"
        fi
        # The postmaster writes its pid file early; if that is gone/dead after a moment, it died.
        if ((SECONDS > deadline - TIMEOUT + 3)) && ! pg_pid >/dev/null; then
            show_logs "$LOG_DIR/postgres.log"
            die "postgres: server exited during startup"
        fi
        sleep 0.2
    done
}

# The application role and database (idempotent; also resets the password).
pg_bootstrap() {
    pg_psql <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER LOGIN CREATEDB;
  END IF;
END \$\$;
ALTER ROLE $DB_USER PASSWORD '$DB_PASSWORD';
SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_USER'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME') \gexec
SQL
}

pg_stop() {
    local pid
    pid=$(pg_pid) || { say "postgres: not running"; return 0; }
    say "postgres: stopping (pid $pid)"
    # SIGINT = pg_ctl's "fast" mode: roll back open transactions, disconnect clients, write a
    # shutdown checkpoint. ("smart" would wait forever for pooled test connections.)
    stop_pid postgres "$pid" INT "$TIMEOUT"
}

# ---------------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------------
redis_pid() {
    local pid
    [[ -r $RUN_DIR/redis.pid ]] || return 1
    pid=$(<"$RUN_DIR/redis.pid")
    pid_is "$pid" redis-server "$REDIS_HOME" && printf '%s\n' "$pid"
}

redis_launch() {
    check_port_free redis "$REDIS_PORT"
    # Rewritten on each start so READSIDE_REDIS_PORT changes apply. Snapshots on shutdown
    # keep the cache across `stop`/`start`, like a real restart.
    cat >"$REDIS_HOME/redis.conf" <<EOF
# Written by hack/stack/stack.sh on every start; edit the script, not this file.
bind 127.0.0.1
protected-mode yes
port $REDIS_PORT
unixsocket ""
daemonize no
dir "$REDIS_HOME"
logfile ""
save 3600 1 300 100 60 10000
appendonly no
EOF
    secure_redis_conf >>"$REDIS_HOME/redis.conf"
    say "redis: starting on 127.0.0.1:$REDIS_PORT"
    launch "$REDIS_HOME" "$LOG_DIR/redis.log" "$RUN_DIR/redis.pid" \
        redis-server "$REDIS_HOME/redis.conf"
}

redis_ready() {
    [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
}

redis_wait() {
    local deadline=$((SECONDS + TIMEOUT))
    until redis_ready; do
        if ! redis_pid >/dev/null; then
            show_logs "$LOG_DIR/redis.log"
            die "redis: server exited during startup"
        fi
        if ((SECONDS >= deadline)); then
            show_logs "$LOG_DIR/redis.log"
            die "redis: no PONG on port $REDIS_PORT after ${TIMEOUT}s"
        fi
        sleep 0.1
    done
}

redis_stop() {
    local pid
    pid=$(redis_pid) || { say "redis: not running"; rm -f -- "$RUN_DIR/redis.pid"; return 0; }
    say "redis: stopping (pid $pid)"
    stop_pid redis "$pid" TERM "$TIMEOUT"   # SIGTERM: save the snapshot, then exit
    rm -f -- "$RUN_DIR/redis.pid"
}

# ---------------------------------------------------------------------------------------------
# Kafka (single combined broker+controller, KRaft)
# ---------------------------------------------------------------------------------------------
# A Kafka class from the installed jars (used for StorageTool, readiness and the tool
# passthrough commands). Quick-start JVM flags: these are short-lived processes.
KAFKA_TOOL_JAVA=(java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
    -Djava.awt.headless=true -Dlog4j.configuration="file:$SCRIPT_DIR/kafka/tools-log4j.properties"
    -cp "$KAFKA_DIST/jars/*")
kafka_class() { "${KAFKA_TOOL_JAVA[@]}" "$@" 9>&-; }

kafka_pid() {
    local pid
    [[ -r $RUN_DIR/kafka.pid ]] || return 1
    pid=$(<"$RUN_DIR/kafka.pid")
    pid_is "$pid" java "$KAFKA_HOME" && printf '%s\n' "$pid"
}

kafka_write_conf() {
    cat >"$KAFKA_HOME/server.properties" <<EOF
# Written by hack/stack/stack.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=$(secure_kafka_listeners),CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=$(secure_kafka_listeners)
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_HOME/data
# partitions of auto-created topics
num.partitions=4
default.replication.factor=1
auto.create.topics.enable=true
# one node: internal topics cannot have more replicas
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
# consumer groups in tests should start consuming at once, not after 3s
group.initial.rebalance.delay.ms=0
EOF
    secure_kafka_conf >>"$KAFKA_HOME/server.properties"
    # Short client timeouts for the readiness probe: fail fast and retry while starting.
    cat >"$KAFKA_HOME/probe.properties" <<EOF
request.timeout.ms=3000
default.api.timeout.ms=5000
socket.connection.setup.timeout.ms=1000
socket.connection.setup.timeout.max.ms=2000
EOF
}

# Format the KRaft storage once, with a cluster id kept in KAFKA_HOME/cluster.id.
kafka_format() {
    [[ -f $KAFKA_HOME/data/meta.properties ]] && return 0
    if [[ ! -s $KAFKA_HOME/cluster.id ]]; then
        kafka_class kafka.tools.StorageTool random-uuid >"$KAFKA_HOME/cluster.id.tmp"
        mv -- "$KAFKA_HOME/cluster.id.tmp" "$KAFKA_HOME/cluster.id"
    fi
    say "kafka: formatting KRaft storage in $KAFKA_HOME/data"
    if ! kafka_class kafka.tools.StorageTool format --ignore-formatted \
        -t "$(<"$KAFKA_HOME/cluster.id")" -c "$KAFKA_HOME/server.properties" \
        >"$LOG_DIR/kafka-format.log" 2>&1; then
        show_logs "$LOG_DIR/kafka-format.log"
        die "kafka: formatting the storage failed"
    fi
}

kafka_launch() {
    check_port_free kafka "$KAFKA_PORT"
    check_port_free kafka-controller "$KAFKA_CONTROLLER_PORT"
    kafka_write_conf
    kafka_format
    say "kafka: starting on 127.0.0.1:$KAFKA_PORT (controller 127.0.0.1:$KAFKA_CONTROLLER_PORT)"
    launch "$KAFKA_HOME" "$LOG_DIR/kafka.out" "$RUN_DIR/kafka.pid" \
        java -Xms512m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        -Dkafka.logs.dir="$LOG_DIR" \
        -Dlog4j.configuration="file:$SCRIPT_DIR/kafka/log4j.properties" \
        -cp "$KAFKA_DIST/jars/*" kafka.Kafka "$KAFKA_HOME/server.properties"
}

# Ready = the broker serves clients: Kafka's own ClusterTool (Admin client: bootstrap Metadata
# request, then DescribeCluster) must answer with the cluster id of our storage, i.e. it is
# our broker, unfenced and serving requests (not merely a port that accepts connections).
kafka_ready() {
    local out want
    out=$(kafka_class org.apache.kafka.tools.ClusterTool cluster-id \
        --bootstrap-server "127.0.0.1:$KAFKA_PORT" --config "$KAFKA_HOME/probe.properties" \
        2>/dev/null) || return 1
    want=$(sed -n 's/^cluster\.id=//p' "$KAFKA_HOME/data/meta.properties")
    [[ $out == "Cluster ID: $want" ]] && return 0
    die "kafka: 127.0.0.1:$KAFKA_PORT answered with '$out', expected cluster id '$want'"
}

kafka_wait() {
    local deadline=$((SECONDS + TIMEOUT))
    # Cheap port poll first, then the (JVM-starting) metadata probe.
    until port_open "$KAFKA_PORT" && kafka_ready; do
        if ! kafka_pid >/dev/null; then
            show_logs "$LOG_DIR/kafka.out" "$LOG_DIR/kafka.log"
            die "kafka: broker exited during startup"
        fi
        if ((SECONDS >= deadline)); then
            show_logs "$LOG_DIR/kafka.out" "$LOG_DIR/kafka.log"
            die "kafka: broker did not answer a metadata request on port $KAFKA_PORT" \
                "after ${TIMEOUT}s"
        fi
        sleep 0.3
    done
}

kafka_stop() {
    local pid
    pid=$(kafka_pid) || { say "kafka: not running"; rm -f -- "$RUN_DIR/kafka.pid"; return 0; }
    say "kafka: stopping (pid $pid)"
    stop_pid kafka "$pid" TERM "$TIMEOUT"   # SIGTERM: controlled shutdown, flush logs
    rm -f -- "$RUN_DIR/kafka.pid"
}

# ---------------------------------------------------------------------------------------------
# Generic per-server operations: NAME in postgres|redis|kafka
# ---------------------------------------------------------------------------------------------
server_pid() {
    case $1 in
        postgres) pg_pid ;; redis) redis_pid ;; kafka) kafka_pid ;;
    esac
}

server_port() {
    case $1 in
        postgres) echo "$PG_PORT" ;; redis) echo "$REDIS_PORT" ;; kafka) echo "$KAFKA_PORT" ;;
    esac
}

check_names() {
    local n
    for n in "$@"; do
        [[ " ${SERVERS[*]} " == *" $n "* ]] || die "unknown server '$n' (use: ${SERVERS[*]})"
    done
}

# Start the named servers that are not running (all launched first, then awaited, so their
# start-up overlaps), and verify every named server is ready.
start_servers() {
    local n
    local -a launched=()
    installed || cmd_install
    make_dirs
    choose_ports
    if [[ ${READSIDE_STACK_SECURE:-0} == 1 ]]; then secure_setup; fi
    reserve_ports "$PG_PORT" "$REDIS_PORT" "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"
    if secure_enabled; then
        reserve_ports "$KAFKA_SASL_SSL_PORT" "$KAFKA_SSL_PORT" "$KAFKA_SASL_PLAINTEXT_PORT" \
            "$REDIS_TLS_PORT"
    fi
    for n in "$@"; do
        if server_pid "$n" >/dev/null; then
            secure_needs_restart "$n" || continue
            say "$n: restarting with the secured listeners"
            stop_servers "$n"
        fi
        case $n in
            postgres) pg_launch ;; redis) redis_launch ;; kafka) kafka_launch ;;
        esac
        launched+=("$n")
    done
    for n in "$@"; do
        case $n in
            postgres) pg_wait && pg_bootstrap && secure_pg_roles ;;
            redis) redis_wait ;;
            kafka)
                # Already-running broker: a live process with its port open is enough for a
                # quick no-op `up`; a freshly launched one gets the full metadata probe.
                if [[ " ${launched[*]} " == *" kafka "* ]] || ! port_open "$KAFKA_PORT"; then
                    kafka_wait
                fi
                secure_kafka_users
                ;;
        esac
        if [[ " ${launched[*]} " == *" $n "* ]]; then
            say "$n: ready on 127.0.0.1:$(server_port "$n")"
        else
            say "$n: already running on 127.0.0.1:$(server_port "$n")"
        fi
    done
}

stop_servers() {
    local n
    for n in "$@"; do
        case $n in
            postgres) pg_stop ;; redis) redis_stop ;; kafka) kafka_stop ;;
        esac
    done
}

# Reverse start order: Kafka and Redis go first, PostgreSQL last.
reverse() { local i; for ((i = $#; i > 0; i--)); do printf '%s\n' "${!i}"; done; }

# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------
cmd_up() {
    if [[ ${1:-} == --secure ]]; then READSIDE_STACK_SECURE=1; fi
    start_servers "${SERVERS[@]}"
}
cmd_down() {
    cmd_stop "${SERVERS[@]}"
}

cmd_start() {
    (($#)) || set -- "${SERVERS[@]}"
    check_names "$@"
    start_servers "$@"
}

cmd_stop() {
    (($#)) || set -- "${SERVERS[@]}"
    check_names "$@"
    local -a names
    mapfile -t names < <(reverse "$@")
    stop_servers "${names[@]}"
}

cmd_restart() {
    (($#)) || set -- "${SERVERS[@]}"
    check_names "$@"
    cmd_stop "$@"
    start_servers "$@"
}

# Exit status 0 when all three run, 3 otherwise (like an init script's status).
cmd_status() {
    local n pid port state rc=0
    for n in "${SERVERS[@]}"; do
        port=$(server_port "$n")
        if pid=$(server_pid "$n"); then
            state="running  pid $pid"
            port_open "$port" && state+=", listening on 127.0.0.1:$port" ||
                state+=", NOT listening on 127.0.0.1:$port (starting?)"
        else
            state=stopped
            rc=3
        fi
        printf '%-9s %s\n' "$n" "$state"
    done
    printf 'state: %s\n' "$STATE"
    return "$rc"
}

cmd_env() {
    cat <<EOF
export DATABASE_URL='postgresql://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME'
export REDIS_URL='redis://127.0.0.1:$REDIS_PORT/0'
export KAFKA_BROKERS='127.0.0.1:$KAFKA_PORT'
EOF
}

# Delete server state (data, logs, pid files). --all also deletes the installed Kafka jars.
cmd_clean() {
    cmd_down
    if [[ ${1:-} == --all ]]; then
        rm -rf -- "$STATE"
    else
        if [[ -d $STATE ]]; then
            find "$STATE" -mindepth 1 -maxdepth 1 ! -path "$STATE/dist" -exec rm -rf -- {} +
        fi
    fi
    rm -rf -- "/tmp/readside-pg-$(printf '%s' "$STATE" | sha256sum | cut -c1-12)"
    say "removed state in $STATE${1:+ ($1)}"
}

cmd_logs() {
    local n=${1:-} lines=${2:-100}
    check_names "$n"
    case $n in
        postgres) tail -n "$lines" -- "$LOG_DIR/postgres.log" ;;
        redis) tail -n "$lines" -- "$LOG_DIR/redis.log" ;;
        kafka) tail -n "$lines" -- "$LOG_DIR/kafka.log" ;;
    esac
}

# kafka-topics.sh equivalent; --bootstrap-server defaults to the local broker.
cmd_kafka_topics() {
    [[ -d $KAFKA_DIST/jars ]] || die "kafka is not installed; run: $0 install"
    if [[ " $* " != *" --bootstrap-server "* ]]; then
        set -- --bootstrap-server "127.0.0.1:$KAFKA_PORT" "$@"
    fi
    # exec: a caller's timeout/kill then reaches the JVM instead of orphaning it
    exec "${KAFKA_TOOL_JAVA[@]}" org.apache.kafka.tools.TopicCommand "$@"
}

cmd_kafka_run_class() {
    [[ -d $KAFKA_DIST/jars ]] || die "kafka is not installed; run: $0 install"
    (($#)) || die "usage: $0 kafka-run-class CLASS [ARGS...]"
    exec "${KAFKA_TOOL_JAVA[@]}" "$@"
}

usage() {
    cat <<EOF
usage: ${0##*/} COMMAND [ARGS]
  install                 install what is missing (apt: postgresql, redis-server; Kafka jars)
  up                      install if needed, start PostgreSQL, Redis, Kafka; wait until ready
  down                    stop all three (graceful)
  status                  show each server (exit 3 if any is stopped)
  env                     print export lines: eval "\$(${0##*/} env)"
  up --secure             also the secured listeners (READSIDE_STACK_SECURE=1; see README)
  secure-env              export lines for the secured listeners (certificates, users)
  clean [--all]           down, then delete the state (--all: also the Kafka jars)
  start|stop|restart [NAME...]   one or more of: ${SERVERS[*]} (default: all)
  logs NAME [LINES]       tail a server's log
  kafka-topics ARGS...    Kafka's TopicCommand against the local broker
  kafka-run-class CLASS ARGS...  any class from the Kafka jars
Ports: READSIDE_PG_PORT=$PG_PORT READSIDE_REDIS_PORT=$REDIS_PORT READSIDE_KAFKA_PORT=$KAFKA_PORT
State: $STATE
EOF
}

main() {
    local cmd=${1:-}
    (($#)) && shift
    case $cmd in
        up | down | install | clean | start | stop | restart) take_lock ;;
    esac
    case $cmd in
        install) cmd_install ;;
        up) cmd_up "$@" ;;
        down) cmd_down ;;
        status) cmd_status ;;
        env) cmd_env ;;
        secure-env) cmd_secure_env ;;
        clean) cmd_clean "$@" ;;
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        restart) cmd_restart "$@" ;;
        logs) cmd_logs "$@" ;;
        kafka-topics) cmd_kafka_topics "$@" ;;
        kafka-run-class) cmd_kafka_run_class "$@" ;;
        -h | --help | help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
