#!/usr/bin/env bash
# up.sh -- start a throw-away single-node Slurm cluster on localhost (for tests/test_slurm.py
# and for trying profiles/slurm without a real cluster).
#
# Target: Debian/Ubuntu with slurm-wlm 22.05 (bookworm), run as root, no systemd needed.
# Everything the cluster writes lives under $SLURM_TMP: slurm.conf, munge key + socket, pid
# files, logs, spool and state. Nothing under /etc is touched (except that the Debian
# packages are installed when missing), so several such clusters can coexist on one host as
# long as they use different ports. Clients find it through $SLURM_CONF or the wrappers in
# $SLURM_TMP/bin (both set by env.sh):
#
#   export SLURM_TMP=/tmp/grokrepro-slurm        # default
#   tests/slurm/up.sh
#   source $SLURM_TMP/env.sh                      # SLURM_CONF + PATH: sinfo, snakemake ... work
#   tests/slurm/down.sh                           # stop (PURGE=1 also deletes $SLURM_TMP)
#
# Idempotent: a re-run rewrites the config, starts only daemons that are not running, and
# restarts slurmctld/slurmd only if slurm.conf changed.
#
# No accounting database (slurmdbd): `sacct` does not work, so Snakemake's slurm executor
# must be told `--slurm-status-command squeue` (MinJobAge below keeps finished jobs visible
# for an hour).
#
# Settings (environment): SLURM_TMP, PARTITION (debug), CLUSTER (localcluster),
# SLURMCTLD_PORT (6817), SLURMD_PORT (6818), REAL_MEMORY_MB (default: 90 % of MemTotal;
# a larger value is declared as is, see SlurmdParameters below), NO_INSTALL=1 (fail
# instead of calling apt-get when packages are missing).
set -euo pipefail

SLURM_TMP=${SLURM_TMP:-/tmp/grokrepro-slurm}
PARTITION=${PARTITION:-debug}
CLUSTER=${CLUSTER:-localcluster}
SLURMCTLD_PORT=${SLURMCTLD_PORT:-6817}
SLURMD_PORT=${SLURMD_PORT:-6818}
export DEBIAN_FRONTEND=noninteractive

[ "$(id -u)" = 0 ] || { echo "up.sh: must run as root" >&2; exit 2; }

# ------------------------------------------------------------------ packages
pkgs="slurmctld slurmd slurm-client munge"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  [ "${NO_INSTALL:-0}" = 1 ] && { echo "up.sh: missing packages:$missing" >&2; exit 3; }
  command -v apt-get >/dev/null || { echo "up.sh: no apt-get; install$missing by hand" >&2; exit 3; }
  apt-get update -q
  apt-get install -y -q --no-install-recommends $missing
fi

HOST=$(hostname -s)
NCPU=$(nproc)
# RealMemory must not exceed what slurmd detects unless config_overrides is set (it is,
# below): derive it from MemTotal (not MemAvailable, which changes between runs and would
# make an unchanged config look changed).
DETECTED_MB=$(awk '/MemTotal/ {printf "%d", int($2/1024*0.9/256)*256}' /proc/meminfo)
MEM_MB=${REAL_MEMORY_MB:-$DETECTED_MB}

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
waitfor() { local n=$1; shift; for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }

# munged runs as user munge: every directory on the way to its socket must be o+x, and
# the socket directory itself must not be world-writable
mkdir -p "$SLURM_TMP"
chmod 0755 "$SLURM_TMP"
mkdir -p "$SLURM_TMP"/{etc,state,spool,log,run}
install -d -o munge -g munge -m 0755 "$SLURM_TMP/munge"

# ------------------------------------------------------------------ munge (own key, own socket)
MUNGE_KEY="$SLURM_TMP/munge/munge.key"
MUNGE_SOCK="$SLURM_TMP/munge/munge.socket.2"
if [ ! -s "$MUNGE_KEY" ]; then
  if command -v mungekey >/dev/null; then
    mungekey --create --keyfile="$MUNGE_KEY"
  else
    dd if=/dev/urandom of="$MUNGE_KEY" bs=1 count=1024 2>/dev/null
  fi
fi
chown munge:munge "$MUNGE_KEY"; chmod 0400 "$MUNGE_KEY"
if ! alive "$SLURM_TMP/munge/munged.pid"; then
  rm -f "$MUNGE_SOCK" "$MUNGE_SOCK.lock"
  runuser -u munge -- /usr/sbin/munged \
    --key-file="$MUNGE_KEY" \
    --socket="$MUNGE_SOCK" \
    --pid-file="$SLURM_TMP/munge/munged.pid" \
    --log-file="$SLURM_TMP/munge/munged.log" \
    --seed-file="$SLURM_TMP/munge/munged.seed"
fi
waitfor 50 test -S "$MUNGE_SOCK" || { echo "up.sh: munged did not start" >&2; cat "$SLURM_TMP/munge/munged.log" >&2 || true; exit 4; }
munge -S "$MUNGE_SOCK" -n | unmunge -S "$MUNGE_SOCK" >/dev/null

# ------------------------------------------------------------------ slurm.conf
export SLURM_CONF="$SLURM_TMP/etc/slurm.conf"
cat > "$SLURM_CONF.new" <<EOF
# single-node localhost cluster (written by tests/slurm/up.sh)
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCK
StateSaveLocation=$SLURM_TMP/state
SlurmdSpoolDir=$SLURM_TMP/spool
SlurmctldPidFile=$SLURM_TMP/run/slurmctld.pid
SlurmdPidFile=$SLURM_TMP/run/slurmd.pid
SlurmctldLogFile=$SLURM_TMP/log/slurmctld.log
SlurmdLogFile=$SLURM_TMP/log/slurmd.log
SlurmctldPort=$SLURMCTLD_PORT
SlurmdPort=$SLURMD_PORT
PlugStackConfig=$SLURM_TMP/etc/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
# trust the node description below (memory is only bookkeeping here: nothing enforces it)
SlurmdParameters=config_overrides
# keep finished jobs visible to `squeue --states=all` for 1 h (the test checks them after the
# run; there is no accounting database to ask); the snakemake slurm plugin
# only honours --slurm-status-command=squeue if MinJobAge >= 3 * init_seconds_before_status_checks
MinJobAge=3600
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$NCPU RealMemory=$MEM_MB State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
: > "$SLURM_TMP/etc/plugstack.conf"
conf_changed=1
cmp -s "$SLURM_CONF.new" "$SLURM_CONF" && conf_changed=0
mv "$SLURM_CONF.new" "$SLURM_CONF"

# Client wrappers: with `PATH=$SLURM_TMP/bin:$PATH`, commands reach this cluster even without
# SLURM_CONF. Needed inside jobs: snakemake-executor-plugin-slurm-jobstep (0.6) starts each
# job's command with a nested `srun` after removing all SLURM_* variables (SLURM_CONF
# included) from its environment, so a plain srun would look for /etc/slurm/slurm.conf,
# which this script leaves alone.
mkdir -p "$SLURM_TMP/bin"
for c in sbatch srun squeue scancel sinfo scontrol sacct; do
  real=$(PATH=/usr/bin:/bin:/usr/sbin:/sbin command -v "$c") || continue
  printf '#!/bin/sh\nSLURM_CONF=%s exec %s "$@"\n' "$SLURM_CONF" "$real" > "$SLURM_TMP/bin/$c"
  chmod 0755 "$SLURM_TMP/bin/$c"
done
printf 'export SLURM_CONF=%s\nexport PATH=%s/bin:$PATH\n' "$SLURM_CONF" "$SLURM_TMP" > "$SLURM_TMP/env.sh"

# ------------------------------------------------------------------ slurmctld + slurmd
if [ "$conf_changed" = 1 ]; then
  for d in slurmd slurmctld; do
    if alive "$SLURM_TMP/run/$d.pid"; then
      pid=$(cat "$SLURM_TMP/run/$d.pid"); kill "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
  done
fi
alive "$SLURM_TMP/run/slurmctld.pid" || slurmctld -f "$SLURM_CONF"
waitfor 150 scontrol ping || { echo "up.sh: slurmctld did not answer" >&2; tail -20 "$SLURM_TMP/log/slurmctld.log" >&2 || true; exit 5; }
alive "$SLURM_TMP/run/slurmd.pid" || slurmd -f "$SLURM_CONF"
node_ready() { sinfo -h -n "$HOST" -o %T | grep -qE '^(idle|mixed|allocated)$'; }
if ! waitfor 150 node_ready; then
  scontrol update NodeName="$HOST" State=RESUME || true
  waitfor 50 node_ready || { echo "up.sh: node not ready" >&2; sinfo -R >&2 || true; tail -20 "$SLURM_TMP/log/slurmd.log" >&2 || true; exit 6; }
fi
sinfo
timeout 60 srun -N1 -n1 -t 1 hostname
echo "up.sh: cluster '$CLUSTER' is up; to use it: source $SLURM_TMP/env.sh"
