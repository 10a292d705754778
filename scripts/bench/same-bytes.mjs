// The baseline for big answers: a bare Fastify server sending, from memory, the exact bytes the app
// answered (BODY_FILE), as JSON. Nothing serves these bytes faster on this machine:
// above ~100 KB an answer's cost is the copying and the client reading it, not the server's work.
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'

const body = readFileSync(process.env.BODY_FILE)
const app = Fastify({ logger: false })
app.get('/', (_request, reply) => reply.type('application/json; charset=utf-8').send(body))
const address = await app.listen({ host: '127.0.0.1', port: 0 })
process.send?.({ address })
