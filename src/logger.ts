import { pino, type Logger } from 'pino';

// Request logs carry method, url, status and timing only: bodies hold health data and are never
// logged, and credentials are redacted.
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
  });
}
