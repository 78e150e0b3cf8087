/**
 * What the harness reads about another process and the machine, from /proc (Linux only):
 * CPU time counts every thread of the process, RSS is what the kernel has resident.
 */
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

function clockTicksPerSec(): number {
  const out = Bun.spawnSync(['getconf', 'CLK_TCK']).stdout.toString().trim();
  const n = Number(out);
  return Number.isInteger(n) && n > 0 ? n : 100;
}
const TICKS_PER_SEC = clockTicksPerSec();

/** User + system CPU seconds consumed so far by `pid` (resolution: one clock tick). */
export function cpuSeconds(pid: number): number {
  const stat = readProc(pid, 'stat');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SEC;
}

/** CPU seconds the whole machine has spent so far (all cores), split by who is charged. */
export interface MachineCpu {
  /** user + nice + system + steal: time charged to processes (or taken by the hypervisor). */
  processSec: number;
  /**
   * irq + softirq: kernel work charged to no process, mostly loopback TCP delivery here. At
   * millions of frames per second it is a visible share of the machine.
   */
  interruptSec: number;
  /**
   * Processes and threads created since boot. Nothing of the bench starts any during a
   * measured interval, so a jump means other work began on the machine: a burst of CPU that
   * an average over the interval can hide.
   */
  forks: number;
}

/**
 * The harness subtracts the server's and the generator's CPU from this to show what other
 * processes took during a measured interval: on a shared machine, that is the first suspect
 * when figures jump between runs.
 */
export function machineCpu(): MachineCpu {
  const stat = readFileSync('/proc/stat', 'utf8');
  const line = stat.split('\n', 1)[0]!;
  const forks = Number(/^processes (\d+)$/m.exec(stat)?.[1] ?? 0);
  // cpu user nice system idle iowait irq softirq steal ... (in clock ticks)
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return { processSec: (user + nice + system + steal) / TICKS_PER_SEC, interruptSec: (irq + softirq) / TICKS_PER_SEC, forks };
}

/** Threads the process has now (a process that starts threads counts towards MachineCpu.forks). */
export function threadCount(pid: number): number {
  return Number(/^Threads:\s+(\d+)$/m.exec(readProc(pid, 'status'))?.[1] ?? 0);
}

export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readProc(pid, 'status'));
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

function readProc(pid: number, file: string): string {
  return readFileSync(`/proc/${pid}/${file}`, 'utf8');
}

/** The soft limit on open files, which every process of the run inherits. */
export function openFileLimit(): number {
  const out = Bun.spawnSync(['sh', '-c', 'ulimit -n']).stdout.toString().trim();
  return out === 'unlimited' ? Number.POSITIVE_INFINITY : Number(out);
}

/**
 * Which code was measured: the git commit (if any) and a digest of every file under src/,
 * so that figures taken on a working tree with uncommitted changes can still be told apart.
 */
export function sourceFingerprint(repoRoot: string): { commit: string | null; srcDigest: string } {
  const commit = Bun.spawnSync(['git', 'rev-parse', '--verify', '-q', 'HEAD'], { cwd: repoRoot }).stdout.toString().trim();
  const hasher = new Bun.CryptoHasher('sha256');
  const files = [...new Bun.Glob('src/**/*').scanSync({ cwd: repoRoot })].sort();
  for (const file of files) hasher.update(file).update(readFileSync(`${repoRoot}/${file}`));
  return { commit: commit || null, srcDigest: hasher.digest('hex').slice(0, 16) };
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  bun: string;
}

export function machineInfo(): MachineInfo {
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    // nproc, not os.cpus(): the cores this run may actually be scheduled on.
    cores: Number(Bun.spawnSync(['nproc']).stdout.toString().trim()),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: Bun.spawnSync(['uname', '-r']).stdout.toString().trim(),
    bun: Bun.version,
  };
}
