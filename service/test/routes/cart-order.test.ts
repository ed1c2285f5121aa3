import t from 'tap'
import { configFrom, isolatedEnv, login, seedDatabase, startInstance, STORAGES } from '../helper.js'

for (const storage of STORAGES) {
  t.test(`a student puts the cart in order: PUT /me/cart (${storage})`, async (t) => {
    const env = await isolatedEnv(t, 'cartorder', storage)
    const config = configFrom(env)
    await seedDatabase(config, { students: 2, courses: 4, capacity: 30 })
    const app = await startInstance(t, config, { worker: false })
    const cookie = await login(app, 'S000001')
    for (const course of ['C0001', 'C0002', 'C0003']) {
      const res = await app.inject({
        method: 'PUT',
        url: `/api/v1/me/cart/${course}`,
        headers: { cookie },
      })
      t.equal(res.statusCode, 204)
    }
    const order = (courseIds: unknown) =>
      app.inject({
        method: 'PUT',
        url: '/api/v1/me/cart',
        headers: { cookie },
        payload: { courseIds },
      })
    const listed = async () =>
      (
        (
          await app.inject({ method: 'GET', url: '/api/v1/me/cart', headers: { cookie } })
        ).json() as {
          items: Array<{ courseId: string }>
        }
      ).items.map((i) => i.courseId)

    const res = await order(['C0003', 'C0001', 'C0002'])
    t.equal(res.statusCode, 200)
    t.same(
      (res.json() as { items: Array<{ courseId: string }> }).items.map((i) => i.courseId),
      ['C0003', 'C0001', 'C0002'],
      'answered with the cart in its new order',
    )
    t.same(await listed(), ['C0003', 'C0001', 'C0002'], 'and kept')

    // The cart changed in another tab: the order that page sends no longer fits.
    for (const stale of [
      ['C0003', 'C0001'],
      ['C0003', 'C0001', 'C0002', 'C0004'],
    ]) {
      const refused = await order(stale)
      t.equal(refused.statusCode, 409, `${stale.join(',')}: 409`)
      t.equal(refused.json().error.code, 'CART_CHANGED')
    }
    t.same(await listed(), ['C0003', 'C0001', 'C0002'], 'a refused order changes nothing')

    for (const bad of [['C0001', 'C0001', 'C0002', 'C0003'], 'C0001', [1], ['../x'], null]) {
      const refused = await order(bad)
      t.equal(refused.statusCode, 400, `${JSON.stringify(bad)}: 400`)
      t.equal(refused.json().error.code, 'VALIDATION_FAILED')
    }
    const extra = await app.inject({
      method: 'PUT',
      url: '/api/v1/me/cart',
      headers: { cookie },
      payload: { courseIds: ['C0003', 'C0001', 'C0002'], also: 1 },
    })
    t.equal(extra.statusCode, 400, 'an unknown field is refused')
    const anonymous = await app.inject({
      method: 'PUT',
      url: '/api/v1/me/cart',
      payload: { courseIds: [] },
    })
    t.equal(anonymous.statusCode, 401)
  })
}
