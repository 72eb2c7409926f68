// Asks a benchmark server child for its CPU time (user + system µs): both child hosts answer a
// { type: 'cpu' } message with { type: 'cpu', user, system }.
import type { ChildProcess } from 'node:child_process';

interface CpuMessage {
  type: 'cpu';
  user: number;
  system: number;
}

const isCpuMessage = (m: unknown): m is CpuMessage => typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'cpu';

export function childCpu(child: ChildProcess, name: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const onMessage = (message: unknown): void => {
      if (!isCpuMessage(message)) return;
      child.off('message', onMessage);
      resolve(message.user + message.system);
    };
    child.on('message', onMessage);
    if (!child.connected) reject(new Error(`${name} is gone`));
    else child.send({ type: 'cpu' });
  });
}
