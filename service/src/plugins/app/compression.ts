import type { FastifyCompressOptions } from '@fastify/compress'

/**
 * What is compressed: the page's files (HTML, CSS, JavaScript, SVG) and JSON. Never the event
 * stream: it is written straight to the socket (the route hijacks its answer), and a compressor
 * would hold events back until its buffer filled.
 */
const COMPRESSIBLE =
  /^text\/(?!event-stream)|^application\/javascript(?:;|$)|(?:\+|\/)json(?:;|$)|\+xml(?:;|$)/

/**
 * The options of @fastify/compress, registered on the root before any route (app.ts): it hooks
 * each route as it is added, in every scope. The rush's own routes opt out (`compress: false`):
 * their answers are below the threshold, and they skip the plugin's hooks.
 */
export const COMPRESSION: FastifyCompressOptions = {
  // Answers smaller than this (every answer of the rush: an enqueue, a status) are sent as they
  // are: compressing them saves a few bytes for a measurable share of the CPU.
  threshold: 1024,
  // Brotli at the plugin's quality 4 (a little smaller than gzip for about its cost), then gzip.
  encodings: ['br', 'gzip'],
  customTypes: COMPRESSIBLE,
  // Request bodies are small JSON and are never inflated: a compressed one is invalid JSON.
  globalDecompression: false,
}
