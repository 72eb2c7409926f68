// Collects positional parameters while SQL text is assembled: values never reach the SQL text, so two
// requests of the same shape give the same text and can share a prepared statement (docs/adr/0013).
export class SqlParams {
  readonly values: unknown[] = [];
  private aliases = 0;

  /** A table alias unique within this statement (x1, x2, ...: the same for every statement of a shape). */
  alias(): string {
    return `x${++this.aliases}`;
  }

  add(value: unknown, cast?: string): string {
    this.values.push(value);
    return cast ? `$${this.values.length}::${cast}` : `$${this.values.length}`;
  }
}

/** Escapes LIKE metacharacters (the default escape character is backslash). */
export function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
