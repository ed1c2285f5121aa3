// @ts-check
/* global document, Node */
// A few DOM helpers. Text always goes in as text (textContent), never as HTML.

/**
 * Creates an element. props: `class`, `text`, `dataset` (object), `on<event>` (function), any
 * other attribute (true: present, false/null/undefined: left out).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, unknown>} [props]
 * @param {...(Node | string | null | undefined | false | Array<Node | string | null | undefined | false>)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag)
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue
    if (key === 'class') element.className = String(value)
    else if (key === 'text') element.textContent = String(value)
    else if (key === 'dataset') Object.assign(element.dataset, value)
    else if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2), /** @type {EventListener} */ (value))
    } else element.setAttribute(key, value === true ? '' : String(value))
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue
    element.append(child instanceof Node ? child : String(child))
  }
  return element
}

/**
 * The element with this id, of the type the caller expects (the page's own markup).
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @returns {T}
 */
export function byId(id) {
  const element = document.getElementById(id)
  if (!element) throw new Error(`the page has no #${id}`)
  return /** @type {T} */ (element)
}

/** Sets text only when it changed (no needless work or screen-reader chatter). */
export function setText(/** @type {Element} */ element, /** @type {unknown} */ text) {
  const value = String(text ?? '')
  if (element.textContent !== value) element.textContent = value
}

/** @param {HTMLElement} element @param {string} key @param {unknown} value */
export function setData(element, key, value) {
  const text = String(value ?? '')
  if (element.dataset[key] !== text) element.dataset[key] = text
}

/** @param {Element} element @param {string} name @param {string | null} value */
export function setAttr(element, name, value) {
  if (value === null) {
    if (element.hasAttribute(name)) element.removeAttribute(name)
  } else if (element.getAttribute(name) !== value) element.setAttribute(name, value)
}

/**
 * Makes `container`'s children the rows of `keys`, in order, reusing the rows in `rows`
 * (a Map key → element): rows are moved only when out of place, so focus survives updates.
 * @param {Element} container
 * @param {readonly string[]} keys
 * @param {Map<string, HTMLElement>} rows
 * @param {(key: string) => HTMLElement} create
 */
export function syncChildren(container, keys, rows, create) {
  const wanted = new Set(keys)
  for (const [key, row] of rows) {
    if (!wanted.has(key)) {
      row.remove()
      rows.delete(key)
    }
  }
  keys.forEach((key, index) => {
    let row = rows.get(key)
    if (!row) {
      row = create(key)
      rows.set(key, row)
    }
    const at = container.children[index] ?? null
    if (at !== row) container.insertBefore(row, at)
  })
}
