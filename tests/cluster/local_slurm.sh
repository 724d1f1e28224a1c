#!/usr/bin/env bash
# A single-node SLURM cluster on localhost, owned by one directory, for testing the SLURM profile.
#
#   tests/cluster/local_slurm.sh start DIR   # write DIR/slurm.conf, start munged, slurmctld, slurmd
#   tests/cluster/local_slurm.sh stop DIR    # stop them again, by the PIDs recorded in DIR
#   tests/cluster/local_slurm.sh env DIR     # print the exports clients (sbatch, squeue) need
#   tests/cluster/local_slurm.sh run DIR [-- SNAKEMAKE_ARGS...]
#       # all in one: start, `snakemake --profile profiles/slurm SNAKEMAKE_ARGS` in the current
#       # directory, stop (by PID, also when the run fails or is interrupted); exits with
#       # snakemake's status. `make slurm-demo` runs the embedded default this way.
#
#   eval "$(tests/cluster/local_slurm.sh env DIR)"
#   snakemake --profile profiles/slurm       # the workflow on the local cluster
#
# `run` runs $SNAKEMAKE (default: snakemake on PATH; e.g. SNAKEMAKE=".venv/bin/python -m
# snakemake") and, unless BRAINALIGN_SLURM_GPUS is set, requests no GPUs (this node has none:
# BRAINALIGN_SLURM_GPUS=1 sends training to its one device-less GPU slot instead, one job at a
# time, to try the GPU request path).
#
# Needs Debian's slurm-wlm and munge (apt-get install slurm-wlm munge) and root (slurmd starts
# jobs as their owner). Nothing outside DIR is written: the munge key, socket, state, spool, logs
# and PID files all live there, and the daemons listen on ports chosen per DIR. `start` waits until
# the node is idle (at most 60 s) and stops whatever it started when it fails.
set -euo pipefail

usage="usage: $0 start|stop|env DIR, or $0 run DIR [-- SNAKEMAKE_ARGS...]"
command=${1:?$usage}
dir=$(realpath -m "${2:?$usage}")
profile=$(realpath "$(dirname "$0")/../../profiles/slurm")

cancel_jobs() {
    # Cancels the jobs still queued or running in this cluster (all of them are ours).
    local jobs
    if [[ -s "$dir/slurmctld.pid" ]] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
        jobs=$(SLURM_CONF="$dir/slurm.conf" timeout 10 squeue -h -t pending,running -o %A 2>/dev/null || true)
        if [[ -n "$jobs" ]]; then
            # shellcheck disable=SC2086
            SLURM_CONF="$dir/slurm.conf" timeout 10 scancel $jobs 2>/dev/null || true
            sleep 2
        fi
    fi
}

stop() {
    # Daemons are stopped by the PIDs they recorded, never by name; SIGTERM, then SIGKILL.
    local name pid
    # First the jobs, so that no job step outlives slurmd.
    cancel_jobs
    for name in slurmd slurmctld munged; do
        [[ -s "$dir/$name.pid" ]] || continue
        pid=$(cat "$dir/$name.pid")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$dir/$name.pid"
    done
}

print_env() {
    echo "export SLURM_CONF=$dir/slurm.conf PATH=$dir/bin:\$PATH"
}

start() {
    for tool in munged mungekey slurmctld slurmd sbatch squeue sinfo; do
        command -v "$tool" >/dev/null || { echo "local_slurm: $tool not found (apt-get install slurm-wlm munge)" >&2; exit 2; }
    done
    [[ $(id -u) == 0 ]] || { echo "local_slurm: must run as root (slurmd starts jobs as their owner)" >&2; exit 2; }
    mkdir -p "$dir"/{state,spool,munge}
    chmod 700 "$dir/munge"
    trap 'stop; echo "local_slurm: start failed; logs in $dir" >&2' ERR

    [[ -s "$dir/munge/munge.key" ]] || mungekey --create --keyfile="$dir/munge/munge.key" --bits=1024
    chmod 400 "$dir/munge/munge.key"
    munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
        --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/munge.seed"

    # Ports from the directory name, so that two clusters (two test runs) do not collide.
    local base=$(( 20000 + $(cksum <<<"$dir" | cut -d' ' -f1) % 20000 ))
    local host cpus memory
    host=$(hostname -s)
    cpus=$(nproc)
    memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
    cat > "$dir/slurm.conf" <<CONF
ClusterName=brainalign-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$base
SlurmdPort=$(( base + 1 ))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# Finished jobs stay visible to squeue for 10 minutes: without slurmdbd, squeue is how the
# Snakemake executor learns that a job finished (profiles/slurm sets slurm-status-command).
MinJobAge=600
MpiDefault=none
# One GPU slot without a device: the profile's GPU requests (training, generation) can be
# scheduled on this node, and the jobs then run on the CPU (torch sees no GPU).
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    # Inside a job, Snakemake's jobstep executor drops every SLURM_* variable, SLURM_CONF too,
    # before it calls srun. On a real cluster srun then reads /etc/slurm/slurm.conf; this
    # cluster writes nothing there, so an srun on PATH (see `env`) restores SLURM_CONF.
    mkdir -p "$dir/bin"
    printf '#!/bin/sh\nexport SLURM_CONF=%s\nexec %s "$@"\n' "$dir/slurm.conf" "$(command -v srun)" > "$dir/bin/srun"
    chmod +x "$dir/bin/srun"
    printf 'AutoDetect=off\nNodeName=%s Name=gpu File=/dev/null\n' "$host" > "$dir/gres.conf"
    export SLURM_CONF="$dir/slurm.conf"
    slurmctld -f "$dir/slurm.conf"
    slurmd -f "$dir/slurm.conf"
    for _ in $(seq 120); do
        if sinfo -h -o %t 2>/dev/null | grep -qx idle; then
            trap - ERR
            return 0
        fi
        sleep 0.5
    done
    echo "local_slurm: the node did not become idle within 60 s" >&2
    false
}

run() {
    shift 2
    [[ "${1:-}" != -- ]] || shift
    local snakemake status=0
    read -r -a snakemake <<<"${SNAKEMAKE:-snakemake}"
    command -v "${snakemake[0]}" >/dev/null || { echo "local_slurm: ${snakemake[0]} not found (set SNAKEMAKE)" >&2; exit 2; }
    # The daemons stop however this ends: success, failure, Ctrl-C or SIGTERM (Snakemake gets
    # SIGINT first: it cancels its SLURM jobs and exits). Only SIGKILL leaves them running:
    # `stop DIR` then.
    child=
    trap stop EXIT
    trap 'interrupted 130' INT
    trap 'interrupted 143' TERM
    start
    export SLURM_CONF="$dir/slurm.conf" PATH="$dir/bin:$PATH"
    export BRAINALIGN_SLURM_GPUS=${BRAINALIGN_SLURM_GPUS:-0}
    echo "local_slurm: cluster up in $dir (its logs are there); running ${snakemake[*]} --profile $profile $*" >&2
    # In the background, so that a signal reaches the traps at once, not after Snakemake ends;
    # with job control on (set -m), so that it does not ignore the SIGINT they forward.
    set -m
    "${snakemake[@]}" --profile "$profile" "$@" &
    child=$!
    wait "$child" || status=$?
    child=
    echo "local_slurm: snakemake exited with status $status; the last 10 minutes' SLURM jobs by state:" >&2
    squeue -h -t all -o %T 2>/dev/null | sort | uniq -c >&2 || true
    exit "$status"
}

interrupted() {
    # Cancel the jobs, then SIGINT as Ctrl-C would (SIGTERM would make Snakemake wait for its
    # running jobs; a shell that ignored SIGINT leaves it ignored in Snakemake too, which then
    # stops when it sees its jobs cancelled). At most 60 s, then SIGKILL; `stop` follows.
    if [[ -n "${child:-}" ]]; then
        cancel_jobs
        kill -INT "$child" 2>/dev/null || true
        for _ in $(seq 120); do kill -0 "$child" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$child" 2>/dev/null || true
    fi
    exit "$1"
}

case "$command" in
    start) start ;;
    stop) stop ;;
    env) print_env ;;
    run) run "$@" ;;
    *) echo "$usage" >&2; exit 2 ;;
esac
