// Command-line flags shared by the benchmark scripts: `--name value` or `--name=value`.
export interface Flags {
  value: (name: string) => string | undefined;
  /** A number >= min (an integer when integer is set), or fallback when the flag is absent. */
  num: (name: string, fallback: number, min: number, integer?: boolean) => number;
}

export function flags(argv: readonly string[]): Flags {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    if (i >= 0) return argv[i + 1];
    return argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  };
  return {
    value,
    num: (name, fallback, min, integer = false) => {
      const raw = value(name);
      if (raw === undefined) return fallback;
      const n = Number(raw);
      const ok = integer ? Number.isInteger(n) : Number.isFinite(n);
      if (!ok || n < min) throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got '${raw}'`);
      return n;
    },
  };
}
