# shellcheck shell=bash
# Secured mode of the local stack (sourced by stack.sh; see hack/stack/README.md).
#
# `READSIDE_STACK_SECURE=1 stack.sh up` (or `stack.sh up --secure`) generates, once, a CA of the
# stack's own with openssl, a server certificate for 127.0.0.1/localhost, a client certificate
# and random passwords in .local/stack/secure/, and from then on every start of a server adds:
#   Kafka      SASL_SSL (SCRAM-SHA-256/512), SSL requiring a client certificate, SASL_PLAINTEXT
#              (PLAIN) listeners beside PLAINTEXT;
#   PostgreSQL ssl = on on the same port, and a role that may log in only over TLS;
#   Redis      a TLS port beside the plain one, and an ACL user with a password.
# The plaintext listeners stay as they were, so everything else keeps working. `clean` ends it.

SECURE_DIR=$STATE/secure
# The secured listeners' ports, next to the plain ones (again after stack.sh's choose_ports).
secure_ports() {
    KAFKA_SASL_SSL_PORT=${READSIDE_KAFKA_SASL_SSL_PORT:-$((KAFKA_PORT + 2))}
    KAFKA_SSL_PORT=${READSIDE_KAFKA_SSL_PORT:-$((KAFKA_PORT + 3))}
    KAFKA_SASL_PLAINTEXT_PORT=${READSIDE_KAFKA_SASL_PLAINTEXT_PORT:-$((KAFKA_PORT + 4))}
    REDIS_TLS_PORT=${READSIDE_REDIS_TLS_PORT:-$((REDIS_PORT + 1))}
}
secure_ports
SECURE_USER=readside           # Kafka SCRAM and PLAIN user, Redis ACL user
PG_TLS_USER=readside_tls       # a PostgreSQL role that can log in only over TLS

secure_enabled() { [[ -f $SECURE_DIR/enabled ]]; }
secure_password() { cat -- "$SECURE_DIR/$1.password"; }

# A certificate signed by CA (a pair of files DIR/NAME.key, DIR/NAME.crt), PKCS#8 key.
secure_cert() {  # secure_cert NAME SUBJECT [SAN] CA
    local name=$1 subject=$2 san=$3 ca=$4 ext
    ext=$(mktemp)
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n' >"$ext"
    [[ -n $san ]] && printf 'subjectAltName=%s\n' "$san" >>"$ext"
    openssl req -new -newkey rsa:2048 -nodes -keyout "$SECURE_DIR/$name.key" \
        -subj "$subject" -out "$SECURE_DIR/$name.csr" 2>/dev/null
    openssl x509 -req -in "$SECURE_DIR/$name.csr" -CA "$SECURE_DIR/$ca.crt" \
        -CAkey "$SECURE_DIR/$ca.key" -CAcreateserial -days 825 -extfile "$ext" \
        -out "$SECURE_DIR/$name.crt" 2>/dev/null
    rm -f -- "$ext" "$SECURE_DIR/$name.csr"
}

secure_ca() {  # secure_ca NAME SUBJECT
    openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$SECURE_DIR/$1.key" -days 825 \
        -subj "$2" -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign -out "$SECURE_DIR/$1.crt" 2>/dev/null
}

# Idempotent: what exists is kept (certificates, passwords), only what is missing is made.
secure_setup() {
    command -v openssl >/dev/null || die "secured mode needs openssl (apt-get install openssl)"
    (umask 077 && mkdir -p -- "$SECURE_DIR")
    if [[ ! -s $SECURE_DIR/client.crt ]]; then
        say "secure: generating a CA, server and client certificates in $SECURE_DIR"
        (
            umask 077
            secure_ca ca "/CN=Readside local stack CA"
            secure_ca other-ca "/CN=A CA nobody trusts"
            secure_cert server "/CN=localhost" "DNS:localhost,IP:127.0.0.1" ca
            secure_cert client "/CN=readside-client" "" ca
            cat -- "$SECURE_DIR/server.key" "$SECURE_DIR/server.crt" >"$SECURE_DIR/server.pem"
        )
    fi
    local name
    for name in kafka redis postgres; do
        [[ -s $SECURE_DIR/$name.password ]] ||
            (umask 077 && openssl rand -hex 16 >"$SECURE_DIR/$name.password")
    done
    touch -- "$SECURE_DIR/enabled"
}

# Listeners for server.properties (kafka_write_conf).
secure_kafka_listeners() {
    local listeners="PLAINTEXT://127.0.0.1:$KAFKA_PORT"
    if secure_enabled; then
        listeners+=",SASL_SSL://127.0.0.1:$KAFKA_SASL_SSL_PORT,SSL://127.0.0.1:$KAFKA_SSL_PORT"
        listeners+=",SASL_PLAINTEXT://127.0.0.1:$KAFKA_SASL_PLAINTEXT_PORT"
    fi
    printf '%s\n' "$listeners"
}

secure_kafka_conf() {
    secure_enabled || return 0
    local scram="org.apache.kafka.common.security.scram.ScramLoginModule required;"
    cat <<EOF
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,SASL_PLAINTEXT:SASL_PLAINTEXT
ssl.keystore.type=PEM
ssl.keystore.location=$SECURE_DIR/server.pem
ssl.truststore.type=PEM
ssl.truststore.location=$SECURE_DIR/ca.crt
listener.name.ssl.ssl.client.auth=required
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=$scram
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=$scram
listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SECURE_USER="$(secure_password kafka)";
EOF
}

# The SCRAM credentials live in the cluster metadata: set once per password (a stamp).
secure_kafka_users() {
    secure_enabled || return 0
    local password stamp
    password=$(secure_password kafka)
    stamp=$(printf '%s' "$password$(<"$KAFKA_HOME/cluster.id")" | sha256sum | cut -c1-16)
    [[ -f $KAFKA_HOME/scram.stamp && $(<"$KAFKA_HOME/scram.stamp") == "$stamp" ]] && return 0
    say "kafka: creating the SCRAM user $SECURE_USER"
    local mechanism
    for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do  # one credential per request
        if ! kafka_class kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
            --alter --entity-type users --entity-name "$SECURE_USER" --add-config \
            "$mechanism=[password=$password]" >"$LOG_DIR/kafka-scram.log" 2>&1; then
            show_logs "$LOG_DIR/kafka-scram.log"
            die "kafka: creating the SCRAM user failed"
        fi
    done
    printf '%s\n' "$stamp" >"$KAFKA_HOME/scram.stamp"
}

secure_redis_conf() {
    secure_enabled || return 0
    cat <<EOF
tls-port $REDIS_TLS_PORT
tls-cert-file $SECURE_DIR/server.crt
tls-key-file $SECURE_DIR/server.key
tls-ca-cert-file $SECURE_DIR/ca.crt
tls-auth-clients optional
user default on nopass ~* &* +@all
user $SECURE_USER on >$(secure_password redis) ~* &* +@all
EOF
}

# PostgreSQL: TLS on the same port; the TLS-only role is refused without TLS (hba_file).
secure_pg_conf() {
    secure_enabled || return 0
    cp -- "$SECURE_DIR/server.key" "$PG_DATA/readside-server.key"
    cp -- "$SECURE_DIR/server.crt" "$PG_DATA/readside-server.crt"
    chmod 0600 -- "$PG_DATA/readside-server.key"
    cat >"$PG_DATA/readside_hba.conf" <<EOF
# Written by hack/stack/secure.sh; initdb's rules, and $PG_TLS_USER only over TLS.
local all all trust
hostnossl all $PG_TLS_USER 0.0.0.0/0 reject
hostssl all $PG_TLS_USER 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
EOF
    if [[ $PG_MODE == pguser ]]; then
        chown postgres: -- "$PG_DATA/readside-server.key" "$PG_DATA/readside-server.crt" \
            "$PG_DATA/readside_hba.conf"
    fi
    cat >>"$PG_DATA/readside.conf" <<EOF
ssl = on
ssl_cert_file = 'readside-server.crt'
ssl_key_file = 'readside-server.key'
hba_file = $(pg_quote "$PG_DATA/readside_hba.conf")
EOF
}

secure_pg_roles() {
    secure_enabled || return 0
    pg_psql <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_TLS_USER') THEN
    CREATE ROLE $PG_TLS_USER LOGIN CREATEDB IN ROLE $DB_USER;
  END IF;
END \$\$;
ALTER ROLE $PG_TLS_USER PASSWORD '$(secure_password postgres)';
SQL
}

# A running server started before secured mode was turned on lacks its listeners. Only a
# server that answers on this invocation's ports is judged (other ports: leave it alone).
secure_needs_restart() {  # secure_needs_restart NAME
    secure_enabled || return 1
    case $1 in
        kafka) port_open "$KAFKA_PORT" && ! port_open "$KAFKA_SASL_SSL_PORT" ;;
        redis) port_open "$REDIS_PORT" && ! port_open "$REDIS_TLS_PORT" ;;
        postgres) [[ $(pg_psql -Atc 'show ssl' 2>/dev/null) == off ]] ;;
    esac
}

# Names of their own (not KAFKA_SASL_USERNAME...): exported into a shell, the clients' own
# variables would apply to every process started from it, plaintext ones included.
cmd_secure_env() {
    secure_enabled || die "secured mode is off: run READSIDE_STACK_SECURE=1 $0 up"
    cat <<EOF
export SECURE_DIR='$SECURE_DIR'
export SECURE_USER='$SECURE_USER'
export SECURE_CA_FILE='$SECURE_DIR/ca.crt'
export SECURE_CLIENT_CERT='$SECURE_DIR/client.crt'
export SECURE_CLIENT_KEY='$SECURE_DIR/client.key'
export SECURE_KAFKA_PASSWORD_FILE='$SECURE_DIR/kafka.password'
export SECURE_POSTGRES_PASSWORD_FILE='$SECURE_DIR/postgres.password'
export SECURE_REDIS_PASSWORD_FILE='$SECURE_DIR/redis.password'
export KAFKA_SASL_SSL_BROKERS='127.0.0.1:$KAFKA_SASL_SSL_PORT'
export KAFKA_SSL_BROKERS='127.0.0.1:$KAFKA_SSL_PORT'
export KAFKA_SASL_PLAINTEXT_BROKERS='127.0.0.1:$KAFKA_SASL_PLAINTEXT_PORT'
export TLS_DATABASE_URL='postgresql://$PG_TLS_USER@127.0.0.1:$PG_PORT/$DB_NAME'
export TLS_REDIS_URL='rediss://127.0.0.1:$REDIS_TLS_PORT/0'
EOF
}
