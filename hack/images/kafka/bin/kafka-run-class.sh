#!/bin/bash
# Run a Kafka main class with the jars from /opt/kafka/libs.
set -e
KAFKA_HOME="${KAFKA_HOME:-/opt/kafka}"
exec java ${KAFKA_HEAP_OPTS:--Xmx512m} ${KAFKA_JVM_PERFORMANCE_OPTS:-} \
  ${KAFKA_LOG4J_OPTS:--Dlog4j.configuration=file:$KAFKA_HOME/config/tools-log4j.properties} \
  ${KAFKA_OPTS:-} -cp "$KAFKA_HOME/libs/*" "$@"
