import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.js'
import { ROLES, type Config } from './config.js'
import { withKeptSessionSecret } from './wiring/session-secret.js'

/**
 * How long a stopping instance may take to finish its requests and admission batches before it
 * exits anyway (the container's stop timeout must outlast it).
 */
export const CLOSE_GRACE_MS = 10_000

/**
 * Starts the service in its role: listen first (liveness answers at once), then migrate and
 * start what the role runs.
 */
export async function serve(given: Config): Promise<FastifyInstance> {
  const config = withKeptSessionSecret(given)
  const app = await buildApp({ config })
  if (config.sessionSecretFile !== null) {
    app.log.info(
      { file: config.sessionSecretFile },
      'SESSION_SECRET is not set: sessions are signed with the development key kept beside the embedded database',
    )
  } else if (!config.sessionSecretProvided && ROLES[config.role].api) {
    app.log.warn(
      'SESSION_SECRET is not set: using a random one, so sessions end when this process stops and do not work across instances',
    )
  }

  closeWithGrace({ delay: CLOSE_GRACE_MS }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'closing after an error')
    else app.log.info({ signal }, 'closing: no new requests, finishing admission batches')
    await app.close()
  })

  await app.listen({ host: config.host, port: config.port })
  const metricsAddress = app.metrics.address()
  app.log.info({ metrics: metricsAddress }, 'metrics listening')
  await app.sugang.startup()
  return app
}
