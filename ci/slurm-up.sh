#!/usr/bin/env bash
# Bring up a single-node Slurm 22.05 cluster on this machine, for the `slurm` tests and for
# trying `hydra/launcher=slurm` locally: Debian, as root, no systemd needed.
#
#   bash ci/slurm-up.sh        # about 75 s from a cold machine (mostly apt), 2-3 s when up
#
# Idempotent: installs what is missing, rewrites a config only when it changed (restarting the
# daemons that read it), starts what is not running, resumes a drained node. Any failure ends
# with one line `slurm-up: error: ...` (exit 1). Accounting (slurmdbd + MariaDB) is not
# optional: submitit learns that a job ended without its result file (scancel, time limit) only
# from `sacct`. Logs: /var/log/slurm/, /var/log/mysql-slurm.log.
set -euo pipefail

PACKAGES="slurmctld slurmd slurm-client munge slurmdbd mariadb-server"
CONF=/etc/slurm
LOG=/var/log/slurm
CLUSTER=sweeplab

die() { echo "slurm-up: error: $*" >&2; exit 1; }
note() { echo "slurm-up: $*"; }

[ "$(id -u)" = 0 ] || die "must run as root (it installs packages and starts daemons)"
command -v apt-get >/dev/null || die "needs a Debian-like system (apt-get not found)"

# A container's PID 1 may not reap, so a stopped daemon can linger as a zombie: `kill -0` and
# plain pgrep would call it running. A process counts only if its state is not Z.
alive() {
    local pid
    for pid in $(pgrep -x "$1" 2>/dev/null); do
        [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] && return 0
    done
    return 1
}

stop() {
    local pid
    for pid in $(pgrep -x "$1" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    wait_for "$1 to stop" 30 bash -c "$(declare -f alive); ! alive $1"
}

# wait_for WHAT SECONDS COMMAND...: poll COMMAND until it succeeds, or fail naming WHAT
wait_for() {
    local what=$1 seconds=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || die "timed out after ${seconds}s waiting for $what"
        sleep 0.5
    done
}

# ------------------------------------------------------------------ packages
missing=$(for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"
done)
if [ -n "$missing" ]; then
    note "installing $(echo $missing)"
    apt_log=$(mktemp)
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends $missing; } >"$apt_log" 2>&1 \
        || die "apt-get install $(echo $missing) failed: $(tail -n 1 "$apt_log")"
fi

# ------------------------------------------------------------------ configs
host=$(hostname -s)
# CPUs, sockets, cores and memory as slurmd sees them; RealMemory a margin below the machine's
# (a node that reports less than its configured memory is drained)
read -r cpus sockets cores threads memory < <(slurmd -C | awk '
    /^NodeName/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
    END { print v["CPUs"], v["SocketsPerBoard"], v["CoresPerSocket"], v["ThreadsPerCore"],
          v["RealMemory"] }')
[ -n "$memory" ] || die "slurmd -C did not report this machine's CPUs and memory"
real_memory=$((memory * 90 / 100))
# without a default each job is given the whole node's memory and jobs run one at a time
mem_per_cpu=$((real_memory / cpus))

changed=""
# put_config FILE MODE: write stdin to FILE if its content differs; note which changed
put_config() {
    local file=$1 mode=$2 tmp
    tmp=$(mktemp)
    cat >"$tmp"
    if ! cmp -s "$tmp" "$file"; then
        install -m "$mode" -o slurm -g slurm "$tmp" "$file"
        changed="$changed $(basename "$file")"
    fi
    rm -f "$tmp"
}

mkdir -p "$CONF" "$LOG" /var/lib/slurm/slurmctld /var/lib/slurm/slurmd
chown slurm:slurm "$LOG" /var/lib/slurm/slurmctld

put_config "$CONF/slurm.conf" 644 <<CONF_EOF
# Written by sweeplab's ci/slurm-up.sh: one node, this machine.
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
# no cgroups in a container: processes are tracked through /proc, CPUs bound by affinity
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$mem_per_cpu
# an impossible request is refused at sbatch instead of pending forever
EnforcePartLimits=ALL
ReturnToService=2
MailProg=/bin/true
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/none
MinJobAge=300
KillWait=10
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus Sockets=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$real_memory State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF_EOF

put_config "$CONF/slurmdbd.conf" 600 <<CONF_EOF
# Written by sweeplab's ci/slurm-up.sh: accounting in the local MariaDB.
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=slurm
PidFile=/run/slurmdbd.pid
LogFile=$LOG/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
CONF_EOF
[ -z "$changed" ] || note "wrote$changed"

# ------------------------------------------------------------------ munge
mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
fi
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    alive munged && stop munged
    runuser -u munge -- /usr/sbin/munged || die "munged did not start (see /var/log/munge/)"
    wait_for "munged" 20 bash -c "munge -n | unmunge"
fi

# ------------------------------------------------------------------ MariaDB
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
if ! mysqladmin ping >/dev/null 2>&1; then
    setsid nohup /usr/sbin/mariadbd --user=mysql >/var/log/mysql-slurm.log 2>&1 </dev/null &
    wait_for "MariaDB (see /var/log/mysql-slurm.log)" 60 mysqladmin ping
fi
mysql -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
          GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';" \
    || die "could not create MariaDB's slurm user"

# ------------------------------------------------------------------ Slurm daemons
restart_if_changed() {  # restart_if_changed DAEMON CONFIG-FILE
    case " $changed " in *" $2 "*) alive "$1" && { note "restarting $1"; stop "$1"; } ;; esac
    return 0
}
restart_if_changed slurmdbd slurmdbd.conf
restart_if_changed slurmctld slurm.conf
restart_if_changed slurmd slurm.conf

if ! alive slurmdbd; then
    slurmdbd || die "slurmdbd did not start (see $LOG/slurmdbd.log)"
fi
wait_for "slurmdbd (see $LOG/slurmdbd.log)" 60 sacctmgr -n list cluster
if [ -z "$(sacctmgr -n -P list cluster format=cluster | grep -x "$CLUSTER")" ]; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null || die "sacctmgr could not add the cluster"
fi
if ! alive slurmctld; then
    slurmctld || die "slurmctld did not start (see $LOG/slurmctld.log)"
fi
wait_for "slurmctld (see $LOG/slurmctld.log)" 60 scontrol ping
if ! alive slurmd; then
    slurmd || die "slurmd did not start (see $LOG/slurmd.log)"
fi

# ------------------------------------------------------------------ node ready
node_state() { sinfo -h -n "$host" -o %T 2>/dev/null | head -n 1; }
deadline=$((SECONDS + 60))
while :; do
    state=$(node_state)
    case "$state" in
        *\*) alive slurmd || slurmd || true ;;  # not responding: its slurmd has gone
        idle*|mixed*|allocated*|completing*) break ;;
        drain*|down*) scontrol update NodeName="$host" State=RESUME 2>/dev/null || true ;;
    esac
    [ $SECONDS -lt $deadline ] || die "node $host is '${state:-unknown}' after 60s \
(reason: $(sinfo -h -n "$host" -o %E); see $LOG/slurmd.log)"
    sleep 0.5
done
note "cluster $CLUSTER up: node $host $state, $cpus CPUs, ${real_memory} MB, partition debug"
