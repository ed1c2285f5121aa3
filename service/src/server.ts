import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import type { Config } from './config.js'

/** Starts the service: listen first (liveness answers at once), then migrate and admit. */
export async function serve(config: Config): Promise<void> {
  const app = await buildApp({ config })
  if (!config.sessionSecretProvided) {
    app.log.warn(
      'SESSION_SECRET is not set: using a random one, so sessions end when this process stops and do not work across instances',
    )
  }

  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'closing after an error')
    else app.log.info({ signal }, 'closing: no new requests, finishing admission batches')
    await app.close()
  })

  await app.listen({ host: config.host, port: config.port })
  const metricsAddress = app.metrics.address()
  app.log.info({ metrics: metricsAddress }, 'metrics listening')
  await app.sugang.startup()
}
