#!/bin/bash
# One-shot, run by the `es-init` service in docker-compose.yml with the
# Elasticsearch image (which has curl): sets the built-in kibana_system
# user's password, and creates the least-privilege role and user Logstash
# writes with. Idempotent: both APIs overwrite with the same values.
set -euo pipefail
es="${ELASTICSEARCH_URL:-http://elasticsearch:9200}"
auth="elastic:${ELASTIC_PASSWORD:?ELASTIC_PASSWORD is not set}"

answer=$(mktemp)
trap 'rm -f "$answer"' EXIT

call() { # METHOD PATH BODY
  local status
  status=$(curl -sS -o "$answer" -w '%{http_code}' -u "$auth" -X "$1" "$es$2" \
    -H 'Content-Type: application/json' --data-binary "$3")
  if [ "${status:0:1}" != 2 ]; then
    echo "es-init: $1 $2 answered HTTP $status: $(cat "$answer")" >&2
    exit 1
  fi
  echo "es-init: $1 $2: HTTP $status"
}

# A password as a JSON string: a quote or backslash in it is escaped, so
# that any password the .env holds reaches Elasticsearch as written.
json_password() { # NAME VALUE
  local value=$2
  if [[ $value =~ [[:cntrl:]] ]]; then
    echo "es-init: $1 holds a control character; use printable characters" >&2
    exit 1
  fi
  value=${value//\\/\\\\}
  value=${value//\"/\\\"}
  printf '"%s"' "$value"
}

# The .env.example values are published with the repository: a stack run
# with them would have a superuser anyone can log in as. Refused here, the
# step every other service waits for, as the sidecar refuses its token's.
for name in ELASTIC_PASSWORD KIBANA_PASSWORD LOGSTASH_PASSWORD KIBANA_ENCRYPTION_KEY; do
  if [[ ${!name:-} == change-me* ]]; then
    echo "es-init: $name is still the placeholder from .env.example; set your own in .env (for example: head -c 24 /dev/urandom | base64), then docker compose up again" >&2
    exit 1
  fi
done

kibana_password=$(json_password KIBANA_PASSWORD "${KIBANA_PASSWORD:?KIBANA_PASSWORD is not set}")
logstash_password=$(json_password LOGSTASH_PASSWORD "${LOGSTASH_PASSWORD:?LOGSTASH_PASSWORD is not set}")

# Wait for the cluster while it starts (connection refused, 503), but stop
# at once when it answers that the credentials are wrong.
echo "es-init: waiting for $es"
ready=
for _ in $(seq 1 90); do
  status=$(curl -s -o /dev/null -w '%{http_code}' -u "$auth" \
    "$es/_cluster/health?wait_for_status=yellow&timeout=5s" || true)
  case $status in
    2*) ready=1; break ;;
    401 | 403)
      echo "es-init: $es refused the elastic user (HTTP $status); check ELASTIC_PASSWORD" >&2
      exit 1
      ;;
  esac
  sleep 2
done
if [ -z "$ready" ]; then
  echo "es-init: $es was not ready after 90 tries (last answer: HTTP $status)" >&2
  exit 1
fi

call POST /_security/user/kibana_system/_password "{\"password\":$kibana_password}"

# Logstash only creates documents in logs-*-* data streams (auto_configure
# lets the first event create its data stream from the index template).
call PUT /_security/role/wasmstash_writer '{
  "cluster": ["monitor"],
  "indices": [{"names": ["logs-*-*"], "privileges": ["auto_configure", "create_doc"]}]
}'
call PUT /_security/user/wasmstash_logstash \
  "{\"password\":$logstash_password,\"roles\":[\"wasmstash_writer\"]}"
echo "es-init: done"
