// Stand-in deployed only when the real e-mail bundle has not been built (see infra/README.md,
// "The e-mail Lambda bundle"). Its schedule is disabled, and an explicit invocation fails loudly
// instead of pretending that confirmation e-mails were sent.
export const handler = async () => {
  throw new Error('sugang notify: placeholder code; build the e-mail bundle and deploy again')
}
