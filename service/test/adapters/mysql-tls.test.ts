// TLS to MySQL (DATABASE_TLS): a MariaDB of this test's own serves certificates made here with
// openssl, so that what is trusted, and what is refused, is known exactly.
import { execFileSync } from 'node:child_process'
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Pool, RowDataPacket } from 'mysql2/promise'
import { pino } from 'pino'
import t from 'tap'
import { createPool, sslOptions } from '../../src/adapters/mysql/pool.js'
import { MysqlStore } from '../../src/adapters/mysql/store.js'
import { loadConfig, loadNotifierConfig } from '../../src/config.js'
import { ConfigError } from '../../src/errors.js'
import { ThrottledLog } from '../../src/logging/throttled-log.js'
import { createNotifier } from '../../src/wiring/notifier.js'
import { createAdapters } from '../../src/wiring/adapters.js'
import { REDIS_URL } from '../helper.js'
import { startMariaDb } from '../support/servers.js'

const dir = await mkdtemp(join(tmpdir(), 'sugang-tls-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })

/** A self-signed CA: `<name>.pem` and `<name>.key`. */
function makeCa(name: string): string {
  openssl(
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`,
    '-keyout', `${name}.key`, '-out', `${name}.pem`,
  ) // prettier-ignore
  return join(dir, `${name}.pem`)
}

/** A server certificate for `altNames`, signed by `ca`: `<name>.pem` and `<name>.key`. */
async function makeServerCert(name: string, ca: string, altNames: string): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), `subjectAltName=${altNames}\n`)
  openssl(
    'req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`,
    '-keyout', `${name}.key`, '-out', `${name}.csr`,
  ) // prettier-ignore
  openssl(
    'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`,
    '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`,
  ) // prettier-ignore
}

const trustedCa = makeCa('trusted-ca')
const otherCa = makeCa('other-ca')
await makeServerCert('localhost-cert', 'trusted-ca', 'DNS:localhost,IP:127.0.0.1')
await makeServerCert('wrong-host-cert', 'trusted-ca', 'DNS:db.elsewhere.test')
await makeServerCert('foreign-cert', 'other-ca', 'DNS:localhost,IP:127.0.0.1')
// The server reads these two paths; FLUSH SSL makes it load whatever they hold now.
const serve = async (cert: string) => {
  await copyFile(join(dir, `${cert}.pem`), join(dir, 'server.pem'))
  await copyFile(join(dir, `${cert}.key`), join(dir, 'server.key'))
}
await serve('localhost-cert')

const server = await startMariaDb({
  args: [
    `--ssl-ca=${trustedCa}`,
    `--ssl-cert=${join(dir, 'server.pem')}`,
    `--ssl-key=${join(dir, 'server.key')}`,
  ],
})
t.teardown(() => server.stop())
const admin = createPool(`mysql://root@127.0.0.1:${server.port}`, 1, 5_000)
t.teardown(() => admin.end())
await admin.query('CREATE DATABASE IF NOT EXISTS sugang')
// As RDS's require_secure_transport does for everyone: this user cannot connect in plain text.
await admin.query("CREATE USER tls_only@'%' IDENTIFIED BY 'tls-only-password' REQUIRE SSL")
await admin.query("GRANT ALL ON sugang.* TO tls_only@'%'")
// By name: the certificate must name the host the client asked for.
const url = `mysql://tls_only:tls-only-password@localhost:${server.port}/sugang`

async function cipherOf(pool: Pool): Promise<string> {
  const [rows] = await pool.query<RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
  return String(rows[0]?.Value ?? '')
}

t.test('without TLS the server turns the client away', async (t) => {
  const plain = createPool(url, 1, 5_000)
  t.teardown(() => plain.end())
  await t.rejects(plain.query('SELECT 1'), { code: 'ER_ACCESS_DENIED_ERROR' })
})

t.test('DATABASE_TLS is "rds", the path of a CA file, or unset', async (t) => {
  const base = { DATABASE_URL: url, REDIS_URL }
  t.same(loadConfig({ ...base, DATABASE_TLS: 'rds' }).databaseTls, { kind: 'rds' })
  t.same(loadConfig({ ...base, DATABASE_TLS: trustedCa }).databaseTls, {
    kind: 'ca-file',
    path: trustedCa,
  })
  t.equal(loadConfig(base).databaseTls, undefined)
  t.throws(() => loadConfig({ ...base, DATABASE_TLS: 'true' }), ConfigError)
  t.same(
    loadNotifierConfig({ ...base, MAIL_FROM: 'a@b.example', DATABASE_TLS: 'rds' }).databaseTls,
    {
      kind: 'rds',
    },
  )
})

t.test('"rds" trusts the RDS CA bundle and verifies the chain and the host name', async (t) => {
  const options = sslOptions({ kind: 'rds' })
  t.ok(Array.isArray(options.ca) && options.ca.length > 10, 'the bundle of every region')
  t.ok(
    (options.ca as string[]).every((pem) => pem.includes('BEGIN CERTIFICATE')),
    'PEM certificates',
  )
  t.match(options, { rejectUnauthorized: true, verifyIdentity: true, minVersion: 'TLSv1.2' })
})

t.test('the service migrates and queries over TLS to a server the CA signed', async (t) => {
  const { databaseTls } = loadConfig({
    DATABASE_URL: url,
    REDIS_URL,
    DATABASE_TLS: trustedCa,
  })
  const store = new MysqlStore({ url, tls: databaseTls, poolSize: 1, timeoutMs: 5_000 })
  t.teardown(() => store.close())
  await store.migrate()
  t.match(await cipherOf(store.primary), /\w/, 'the connection is encrypted')
})

t.test('the service reads the primary and the replica over TLS', async (t) => {
  const config = loadConfig({
    DATABASE_URL: url,
    DATABASE_REPLICA_URL: url,
    REDIS_URL,
    DATABASE_TLS: trustedCa,
  })
  const throttled = new ThrottledLog(pino({ level: 'silent' }))
  const { store, rush } = await createAdapters(config, throttled)
  t.teardown(async () => {
    await rush.lifecycle.close()
    await store.close()
    throttled.close()
  })
  await store.migrate()
  t.same(await store.listCourses(), [], 'a catalogue read, on the replica pool')
  t.equal(await store.findStudent('S000001'), null, 'an own-data read, on the primary pool')
})

t.test('the e-mail sender reads the outbox over TLS', async (t) => {
  const config = loadNotifierConfig({
    DATABASE_URL: url,
    DATABASE_TLS: trustedCa,
    MAIL_FROM: 'sugang@example.ac.kr',
  })
  const notifier = await createNotifier(config, {
    log: pino({ level: 'silent' }),
    mailer: { send: () => Promise.reject(new Error('no mail in this test')) },
  })
  t.teardown(() => notifier.close())
  t.match(await notifier.backlog(), { pending: 0, dead: 0 })
})

t.test('a server whose certificate another CA signed is refused', async (t) => {
  await serve('foreign-cert')
  await admin.query('FLUSH SSL')
  t.teardown(async () => {
    await serve('localhost-cert')
    await admin.query('FLUSH SSL')
  })
  const pool = createPool(url, 1, 5_000, { kind: 'ca-file', path: trustedCa })
  t.teardown(() => pool.end())
  await t.rejects(pool.query('SELECT 1'), /self[- ]signed|unable to (get|verify)|certificate/i)
  // And the other way round: the right server, the wrong CA.
  await serve('localhost-cert')
  await admin.query('FLUSH SSL')
  const wrongCa = createPool(url, 1, 5_000, { kind: 'ca-file', path: otherCa })
  t.teardown(() => wrongCa.end())
  await t.rejects(wrongCa.query('SELECT 1'), /self[- ]signed|unable to (get|verify)|certificate/i)
})

t.test('a certificate the CA signed for another host is refused', async (t) => {
  await serve('wrong-host-cert')
  await admin.query('FLUSH SSL')
  t.teardown(async () => {
    await serve('localhost-cert')
    await admin.query('FLUSH SSL')
  })
  const pool = createPool(url, 1, 5_000, { kind: 'ca-file', path: trustedCa })
  t.teardown(() => pool.end())
  await t.rejects(pool.query('SELECT 1'), /altnames|host ?name|does not match/i)
})
