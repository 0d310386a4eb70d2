// What the benchmarks compute from their samples and read of a process, written once.
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** The median, the mean of the two middle samples when their number is even; NaN samples are left out. */
export function median(xs) {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The `p`th percentile (0-100) by nearest rank: a sample that was seen. */
export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A process's CPU time so far (user + system), in ms, from /proc; NaN when it is gone. */
export function cpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

/** A process's peak resident memory (VmHWM), in bytes; NaN when it is gone. */
export function peakRss(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** The 1-minute load average, as the results print it. */
export const loadAverage = () => os.loadavg()[0].toFixed(1);
