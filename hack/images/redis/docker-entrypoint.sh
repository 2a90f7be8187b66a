#!/bin/sh
# Same contract as the public image: `redis-server [args]` (or just flags) runs as the
# redis user, listening on all interfaces without protected mode unless configured.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" = redis-server ]; then
  case " $* " in
    *" --protected-mode "*|*".conf "*) ;;
    *) set -- "$@" --protected-mode no --bind '* -::*' ;;
  esac
  if [ "$(id -u)" = 0 ]; then
    chown -R redis:redis /data 2>/dev/null || true
    exec gosu redis "$@"
  fi
fi
exec "$@"
