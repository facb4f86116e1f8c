#!/usr/bin/env bash
# down.sh -- stop the cluster started by tests/slurm/up.sh (same $SLURM_TMP): cancel its
# jobs, then stop slurmd, slurmctld and munged by pid file (never by name, so other Slurm or
# munge instances on the host are left alone). PURGE=1 also deletes $SLURM_TMP.
# Idempotent: safe to run when nothing (or only part of the cluster) is running.
set -u
SLURM_TMP=${SLURM_TMP:-/tmp/grokrepro-slurm}
export SLURM_CONF="$SLURM_TMP/etc/slurm.conf"

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
stop() {  # $1 = pid file
  [ -s "$1" ] || return 0
  local pid; pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$1"
}

# jobs still running (e.g. after a killed snakemake) would outlive slurmd in slurmstepd
if [ -f "$SLURM_CONF" ] && alive "$SLURM_TMP/run/slurmctld.pid"; then
  jobs=$(timeout 20 squeue -h -o %i 2>/dev/null || true)
  if [ -n "$jobs" ]; then
    # shellcheck disable=SC2086
    timeout 20 scancel $jobs 2>/dev/null || true
    for _ in $(seq 50); do
      [ -z "$(timeout 5 squeue -h -t RUNNING,COMPLETING -o %i 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
fi
stop "$SLURM_TMP/run/slurmd.pid"
stop "$SLURM_TMP/run/slurmctld.pid"
stop "$SLURM_TMP/munge/munged.pid"
[ "${PURGE:-0}" = 1 ] && rm -rf "$SLURM_TMP"
exit 0
