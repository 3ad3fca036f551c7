#!/bin/bash
# One-shot, run by the `es-init` service in docker-compose.yml with the
# Elasticsearch image (which has curl): sets the built-in kibana_system
# user's password, and creates the least-privilege role and user Logstash
# writes with. Idempotent: both APIs overwrite with the same values.
set -euo pipefail
es="${ELASTICSEARCH_URL:-http://elasticsearch:9200}"
auth="elastic:${ELASTIC_PASSWORD:?ELASTIC_PASSWORD is not set}"

call() { # METHOD PATH BODY
  local status
  status=$(curl -sS -o /tmp/answer -w '%{http_code}' -u "$auth" -X "$1" "$es$2" \
    -H 'Content-Type: application/json' -d "$3")
  if [ "${status:0:1}" != 2 ]; then
    echo "es-init: $1 $2 answered HTTP $status: $(cat /tmp/answer)" >&2
    exit 1
  fi
  echo "es-init: $1 $2: HTTP $status"
}

echo "es-init: waiting for $es"
for _ in $(seq 1 90); do
  if curl -sf -o /dev/null -u "$auth" "$es/_cluster/health?wait_for_status=yellow&timeout=5s"; then
    break
  fi
  sleep 2
done

call POST /_security/user/kibana_system/_password \
  "{\"password\":\"${KIBANA_PASSWORD:?KIBANA_PASSWORD is not set}\"}"

# Logstash only creates documents in logs-*-* data streams (auto_configure
# lets the first event create its data stream from the index template).
call PUT /_security/role/wasmstash_writer '{
  "cluster": ["monitor"],
  "indices": [{"names": ["logs-*-*"], "privileges": ["auto_configure", "create_doc"]}]
}'
call PUT /_security/user/wasmstash_logstash \
  "{\"password\":\"${LOGSTASH_PASSWORD:?LOGSTASH_PASSWORD is not set}\",\"roles\":[\"wasmstash_writer\"]}"
echo "es-init: done"
