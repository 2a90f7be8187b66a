#!/bin/bash
# Entry point with the public Apache Kafka image's contract: with no KAFKA_* settings it
# runs a single-node KRaft broker+controller on :9092 (controller :9093); every
# KAFKA_<NAME> variable sets the broker property <name> (`_` -> `.`, `__` -> `_`,
# `___` -> `-`). CLUSTER_ID fixes the cluster id used to format the storage.
set -euo pipefail
if [ $# -gt 0 ]; then exec "$@"; fi

cfg=/opt/kafka/config/server.properties
# shellcheck disable=SC2054  # commas are part of the values
declare -A props=(
  [process.roles]=broker,controller
  [node.id]=1
  [controller.quorum.voters]=1@localhost:9093
  [listeners]=PLAINTEXT://:9092,CONTROLLER://:9093
  [advertised.listeners]=PLAINTEXT://localhost:9092
  [listener.security.protocol.map]=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
  [controller.listener.names]=CONTROLLER
  [inter.broker.listener.name]=PLAINTEXT
  [log.dirs]=/var/lib/kafka/data
  [num.partitions]=1
  [offsets.topic.replication.factor]=1
  [transaction.state.log.replication.factor]=1
  [transaction.state.log.min.isr]=1
  [share.coordinator.state.topic.replication.factor]=1
  [share.coordinator.state.topic.min.isr]=1
  [group.initial.rebalance.delay.ms]=0
)
for var in $(compgen -e); do
  case "$var" in
    KAFKA_HEAP_OPTS|KAFKA_OPTS|KAFKA_JVM_PERFORMANCE_OPTS|KAFKA_LOG4J_OPTS|KAFKA_VERSION|KAFKA_HOME|KAFKA_GC_LOG_OPTS|KAFKA_JMX_OPTS|KAFKA_DEBUG) continue ;;
    # Service links Kubernetes injects for a Service named "kafka" are not broker settings.
    KAFKA_PORT|KAFKA_PORT_*|KAFKA_SERVICE_HOST|KAFKA_SERVICE_PORT|KAFKA_SERVICE_PORT_*) continue ;;
    KAFKA_*) ;;
    *) continue ;;
  esac
  name="${var#KAFKA_}"
  name="$(printf '%s' "$name" | tr '[:upper:]' '[:lower:]' | sed -e 's/___/-/g' -e 's/__/@/g' -e 's/_/./g' -e 's/@/_/g')"
  props[$name]="${!var}"
done
# A controller-only or broker-only node without voters falls back to itself.
if [ -n "${KAFKA_CONTROLLER_QUORUM_BOOTSTRAP_SERVERS:-}" ] && [ -z "${KAFKA_CONTROLLER_QUORUM_VOTERS:-}" ]; then
  unset 'props[controller.quorum.voters]'
fi
: >"$cfg"
for key in "${!props[@]}"; do printf '%s=%s\n' "$key" "${props[$key]}" >>"$cfg"; done

cluster_id="${CLUSTER_ID:-5L6g3nShT-eMCtK--X86sw}"
kafka-run-class.sh kafka.tools.StorageTool format --cluster-id "$cluster_id" --config "$cfg" --ignore-formatted
export KAFKA_LOG4J_OPTS="${KAFKA_LOG4J_OPTS:--Dlog4j.configuration=file:/opt/kafka/config/log4j.properties}"
exec kafka-run-class.sh kafka.Kafka "$cfg"
