import { pino, type DestinationStream, type Logger } from 'pino';

interface LoggedRequest {
  method?: string;
  url?: string;
  ip?: string;
  id?: unknown;
}

// Request logs carry method, path, status and timing only: bodies hold health data and are never
// logged, query strings (search values such as names or identifiers) are cut off, and no headers are
// logged (credentials, cookies).
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      serializers: {
        req: (req: LoggedRequest) => ({ id: req.id, method: req.method, path: req.url?.split('?')[0], remoteAddress: req.ip }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      },
    },
    destination,
  );
}
