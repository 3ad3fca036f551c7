# encoding: utf-8
# Moves a top-level value that ECS keeps in an object, but that the event
# brought as plain text (`"host": "web-1"`, `"service": "api"`), to that
# object's ECS field (`host.name`, `service.name`). The stack's index
# template maps these fields as objects (elasticsearch/component-mappings.json),
# and Elasticsearch refuses a document with a concrete value where an object
# is mapped ("tried to parse field [host] as object, but found a concrete
# value"); `ignore_malformed` does not cover objects. Such an event would
# reach only the dead-letter queue. Senders write these as text often:
# Vector's sources add a `host` string, and many application loggers a
# `service` or `user` string. Use from a ruby filter, before anything reads
# the ECS field:
#
#   ruby { path => "/usr/share/logstash/wasmstash/scripts/ecs_objects.rb" }
#
# Only a string, number or boolean, or a list of them, moves; an object is
# what the template expects and stays. A field mapped as an object with no
# single ECS field for text (`event`, `log`, `http`) is left alone, and
# docs/FIELDS.md says what Elasticsearch does with it.

ECS_FIELD_FOR_TEXT = {
  "host" => "[host][name]",
  "service" => "[service][name]",
  "user" => "[user][name]",
  "process" => "[process][name]",
  "source" => "[source][address]",
  "url" => "[url][original]",
  "user_agent" => "[user_agent][original]"
}.freeze

def register(params)
  @moves = ECS_FIELD_FOR_TEXT.merge(params.fetch("moves", {}))
end

def filter(event)
  @moves.each do |field, ecs_field|
    value = event.get(field)
    next unless scalar_or_list_of_scalars?(value)
    event.remove(field)
    event.set(ecs_field, value)
  end
  [event]
end

def scalar_or_list_of_scalars?(value)
  case value
  when String, Numeric, true, false then true
  when Array then !value.empty? && value.all? { |item| scalar_or_list_of_scalars?(item) && !item.is_a?(Array) }
  else false
  end
end
