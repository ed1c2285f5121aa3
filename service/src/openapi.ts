import { buildApp } from './app.js'
import { loadConfig } from './config.js'
import { openapiDocument, renderOpenapi, type OpenApiDocument } from './plugins/app/openapi.js'

/**
 * The configuration the document is generated with. Building the app opens no connection that
 * must succeed (nothing listens on port 1; `startup` is never called), and no route schema
 * depends on the configuration, so the document is the same wherever it is generated.
 */
const OFFLINE_ENV = {
  DATABASE_URL: 'mysql://openapi@127.0.0.1:1/openapi',
  REDIS_URL: 'redis://127.0.0.1:1',
  METRICS_PORT: '0',
  LOG_LEVEL: 'silent',
  SERVICE_ROLE: 'door',
}

/** Builds the app without MySQL or Redis and returns its OpenAPI document. */
export async function generateOpenapiDocument(): Promise<OpenApiDocument> {
  const app = await buildApp({ config: loadConfig(OFFLINE_ENV), logger: false })
  try {
    await app.ready()
    return openapiDocument(app)
  } finally {
    await app.close()
  }
}

/** The document exactly as docs/openapi.json holds it. */
export async function generateOpenapi(): Promise<string> {
  return renderOpenapi(await generateOpenapiDocument())
}
