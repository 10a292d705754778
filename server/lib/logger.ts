import type { LoggerOptions } from 'pino'
import type { Config } from '../config.js'

/**
 * The log settings every process shares (web, worker, command line): level, secrets redacted,
 * pretty output when asked for.
 */
export function loggerOptions(config: Pick<Config, 'LOG_LEVEL' | 'LOG_PRETTY'>): LoggerOptions {
  return {
    level: config.LOG_LEVEL,
    redact: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
    serializers: {
      // Sign-in, reminder and broadcast-reply links carry a token in the path: never log it.
      req: (req: { method: string; url: string; ip?: string }) => ({
        method: req.method,
        url: req.url.replace(/\/(link|r|b|v|i|door)\/[^/?#]+/, '/$1/[redacted]'),
        ip: req.ip,
      }),
    },
    ...(config.LOG_PRETTY
      ? {
          transport: {
            target: 'pino-pretty',
            options: { ignore: 'pid,hostname,reqId', translateTime: 'HH:MM:ss' },
          },
        }
      : {}),
  }
}
