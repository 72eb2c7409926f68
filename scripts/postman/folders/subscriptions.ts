// Folder 6: Subscriptions. The plan's integration engine learns of Carmen Rivera's lead changes (folder 3's
// member) through a rest-hook Subscription in the Backport IG shape (docs/subscriptions.md), then asks the
// server what it sent ($status) and replays it ($events); a classic (search criteria) Subscription too. The webhook endpoint is {{webhookUrl}}: a local
// receiver that `npm run postman` starts and allow-lists (SUBSCRIPTION_ALLOWED_HOSTS).
import { json, put, status, test, tokenRequest, type Folder } from '../dsl.js';
import { HANDOFF_LEAD, hhTeam, NY_HH, NY_PLAN } from './new-york.js';

const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';
const SECRET_EXTENSION = 'https://concord-fhir.org/fhir/StructureDefinition/subscription-secret';
/** The routing header value the engine asks Concord to send with every delivery. */
export const ENGINE_ROUTE = 'concord-leads';
/** A demonstration signing secret (Standard Webhooks `whsec_` + base64 of 32 bytes); pick your own. */
export const DEMO_SECRET = `whsec_${Buffer.from('concord-postman-demo-secret-32by').toString('base64')}`;

/** Where the Subscriptions post by default: a local receiver (the server must allow-list its host:port). */
export const DEFAULT_WEBHOOK_URL = 'http://127.0.0.1:9090/concord-webhook';

const js = (v: unknown): string => JSON.stringify(v);

function subscription(options: { criteria: string; filter?: string; endpoint: string; reason: string; payload: 'empty' | 'id-only' | 'full-resource' }) {
  const topicBased = options.criteria.includes('/SubscriptionTopic/');
  return {
    resourceType: 'Subscription',
    ...(topicBased ? { meta: { profile: [`${BACKPORT}/backport-subscription`] } } : {}),
    status: 'requested',
    reason: options.reason,
    criteria: options.criteria,
    ...(options.filter ? { _criteria: { extension: [{ url: `${BACKPORT}/backport-filter-criteria`, valueString: options.filter }] } } : {}),
    channel: {
      type: 'rest-hook',
      endpoint: options.endpoint,
      payload: 'application/fhir+json',
      _payload: { extension: [{ url: `${BACKPORT}/backport-payload-content`, valueCode: options.payload }] },
      header: [`X-Engine-Route: ${ENGINE_ROUTE}`],
      extension: [
        { url: `${BACKPORT}/backport-heartbeat-period`, valueUnsignedInt: 300 },
        { url: `${BACKPORT}/backport-timeout`, valueUnsignedInt: 10 },
        { url: SECRET_EXTENSION, valueString: DEMO_SECRET },
      ],
    },
  };
}

const LEAD_TOPIC = '{{baseUrl}}/SubscriptionTopic/lead-care-manager';
const LEAD_SUBSCRIPTION = subscription({
  criteria: LEAD_TOPIC,
  filter: 'CareTeam?patient=Patient/ny-rivera',
  endpoint: '{{webhookUrl}}',
  reason: "Carmen Rivera's lead care manager changes, for the plan's care management system",
  payload: 'id-only',
});

const READ_BACK = 'Plan: read the Subscription back (active after the handshake)';

/** The secret went in with the create and must never come back. */
const noSecret = test(
  'the signing secret is not returned',
  `const text = pm.response.text();`,
  `pm.expect(text).not.to.include(${js(SECRET_EXTENSION)});`,
  `pm.expect(text).not.to.include(${js(DEMO_SECRET)});`,
);

/** The SubscriptionStatus Parameters (first entry) and one of its values. */
const statusParams = [
  json,
  `const params = body.entry[0].resource;`,
  `pm.expect(params.resourceType).to.eql('Parameters');`,
  `const value = function (name) { const p = params.parameter.find(function (x) { return x.name === name; }); return p && (p.valueString || p.valueCode || p.valueCanonical || (p.valueReference || {}).reference); };`,
];

export const subscriptions: Folder = {
  name: '6. Subscriptions',
  description:
    "An integration engine should not poll for coordination changes: it subscribes to one of the contract's topics and Concord posts a notification to its webhook whenever something changes. Here the MLTC plan's engine subscribes to `lead-care-manager` for Carmen Rivera (folder 3), the Health Home ends its lead, and the engine checks what it was told with `$status` and `$events`; a classic Subscription (a search as criteria) sees the same write. At the end the engine pauses one Subscription and deletes the other. Subscriptions follow the R5 Backport IG (R4 `Subscription`, topic canonical in `criteria`, filters and payload content in extensions; see docs/subscriptions.md).\n\nThe webhook endpoint is `{{webhookUrl}}`: a receiver you run that answers 2xx. Concord accepts https endpoints, and plain http only to hosts the operator allow-lists, so for a local receiver (the environment's default, `" +
    DEFAULT_WEBHOOK_URL +
    "`) start the server with `SUBSCRIPTION_ALLOWED_HOSTS=" +
    new URL(DEFAULT_WEBHOOK_URL).host +
    "`. `npm run postman` starts such a receiver itself and points `{{webhookUrl}}` at it.",
  items: [
    tokenRequest(NY_PLAN, "The plan's integration engine uses the plan's client (its Subscriptions act for Organization/ny-mltcp, and only what the plan may see is sent)."),
    tokenRequest(NY_HH, "The Health Home's care management system will change Carmen's lead."),
    {
      name: "Plan: subscribe to Carmen's lead changes",
      description:
        "The plan's engine asks to be told whenever Carmen's lead care manager is added, ended, changed or removed: the `lead-care-manager` topic (`criteria` is the topic's canonical under this server's base), filtered to her care teams (`backport-filter-criteria` `CareTeam?patient=Patient/ny-rivera`). Notifications carry ids only (`id-only`), are signed with the `subscription-secret` (Standard Webhooks; use a secret of your own) and carry the engine's routing header. The client writes `status: requested`; the server checks the endpoint, sends a handshake and sets `active`. The id is kept in `{{subscriptionId}}`.",
      as: NY_PLAN,
      method: 'POST',
      url: 'Subscription',
      body: LEAD_SUBSCRIPTION,
      tests: [
        status(201),
        test(
          'stored as requested, with the topic and the filter',
          json,
          `pm.expect(body.status).to.be.oneOf(['requested', 'active']);`,
          `pm.expect(body.criteria).to.eql(pm.environment.get('baseUrl') + '/SubscriptionTopic/lead-care-manager');`,
          `pm.expect(body._criteria.extension[0].valueString).to.eql('CareTeam?patient=Patient/ny-rivera');`,
          `pm.expect(body.id).to.be.a('string');`,
          `pm.collectionVariables.set('subscriptionId', body.id);`,
          `pm.collectionVariables.set('subscriptionPolls', 0);`,
        ),
        noSecret,
      ],
    },
    {
      name: READ_BACK,
      description:
        "The engine reads its Subscription: `active` once the handshake reached the webhook (the request is repeated, up to 20 times half a second apart, while it is still `requested`). The secret is write-only: read, search and history never show it.",
      as: NY_PLAN,
      method: 'GET',
      url: 'Subscription/{{subscriptionId}}',
      tests: [
        status(200),
        [
          json,
          `const polls = Number(pm.collectionVariables.get('subscriptionPolls') || 0);`,
          `const again = body.status === 'requested' && polls < 20;`,
          `if (again) { pm.collectionVariables.set('subscriptionPolls', polls + 1); postman.setNextRequest(${js(READ_BACK)}); setTimeout(function () {}, 500); }`,
        ].join('\n'),
        test(
          'active after the handshake',
          `if (again) pm.expect(body.status, 'still waiting for the handshake').to.eql('requested');`,
          `else pm.expect(body.status, (body.error || []).map(function (e) { return e.text; }).join('; ')).to.eql('active');`,
        ),
        noSecret,
      ],
    },
    {
      name: "Plan: a classic Subscription to every change of Carmen's care teams",
      description:
        "Topics carry the changes the contract defines; for anything else an engine can subscribe with a search instead (`criteria` `CareTeam?subject=Patient/ny-rivera`, no topic, no Backport profile): every created or updated version that matches the search is an event. This one asks for `full-resource` notifications, which carry each changed team as it was written. The id is kept in `{{classicSubscriptionId}}`.",
      as: NY_PLAN,
      method: 'POST',
      url: 'Subscription',
      body: subscription({ criteria: 'CareTeam?subject=Patient/ny-rivera', endpoint: '{{webhookUrl}}', reason: "Every change to Carmen Rivera's care teams", payload: 'full-resource' }),
      tests: [
        status(201),
        test(
          'stored with the search as its criteria',
          json,
          `pm.expect(body.status).to.be.oneOf(['requested', 'active']);`,
          `pm.expect(body.criteria).to.eql('CareTeam?subject=Patient/ny-rivera');`,
          `pm.collectionVariables.set('classicSubscriptionId', body.id);`,
        ),
        noSecret,
      ],
    },
    {
      name: "Health Home: Chidi Okafor's lead ends (a lead change)",
      description:
        "Carmen moves to another county at the end of June 2027: the Health Home ends Chidi Okafor's lead on 2027-06-30 (his care management continues until the handover). Ending a lead is a `lead-care-manager` event; the server records it for every Subscription whose filters match, in the same transaction as the write, and posts it to the plan's webhook.",
      as: NY_HH,
      ...put(hhTeam({ lead: { ...HANDOFF_LEAD, end: '2027-06-30' } })),
      tests: [status(200), test('the lead participant ends on 2027-06-30', json, `pm.expect(body.participant[1].period.end).to.eql('2027-06-30');`)],
    },
    {
      name: 'Plan: $status counts the events',
      description:
        "`$status` is how an engine checks on its Subscription without waiting for a notification (after an outage, say): a `searchset` Bundle holding the SubscriptionStatus Parameters (`type` `query-status`), with the number of events since the Subscription started and the last delivery error, if any.",
      as: NY_PLAN,
      method: 'GET',
      url: 'Subscription/{{subscriptionId}}/$status',
      tests: [
        status(200),
        test(
          'active, at least one event since the start',
          ...statusParams,
          `pm.expect(body.type).to.eql('searchset');`,
          `pm.expect(value('type')).to.eql('query-status');`,
          `pm.expect(value('status')).to.eql('active');`,
          `pm.expect(value('subscription')).to.include('Subscription/' + pm.collectionVariables.get('subscriptionId'));`,
          `pm.expect(value('topic')).to.match(/\\/SubscriptionTopic\\/lead-care-manager$/);`,
          `pm.expect(Number(value('events-since-subscription-start'))).to.be.at.least(1);`,
        ),
        noSecret,
      ],
    },
    {
      name: 'Plan: $events replays what was sent',
      description:
        "`$events` returns the retained events of a range as the same notification Bundle the webhook received (`history`, first entry the SubscriptionStatus Parameters, `type` `query-event`). Events are numbered from 1 per Subscription, in commit order and without gaps, so an engine that missed deliveries asks for the numbers it lacks. Event 1 is the ended lead; its `focus` names the team version that changed.",
      as: NY_PLAN,
      method: 'GET',
      url: 'Subscription/{{subscriptionId}}/$events?eventsSinceNumber=1',
      tests: [
        status(200),
        test(
          'event 1 is the Health Home team',
          ...statusParams,
          `pm.expect(body.type).to.eql('history');`,
          `pm.expect(value('type')).to.eql('query-event');`,
          `const events = params.parameter.filter(function (p) { return p.name === 'notification-event'; });`,
          `pm.expect(events.length).to.be.at.least(1);`,
          `const part = function (e, name) { return e.part.find(function (x) { return x.name === name; }); };`,
          `pm.expect(part(events[0], 'event-number').valueString).to.eql('1');`,
          `pm.expect(part(events[0], 'timestamp').valueInstant).to.be.a('string');`,
          `pm.expect(part(events[0], 'focus').valueReference.reference).to.match(/\\/CareTeam\\/ny-rivera-hh-team\\/_history\\/\\d+$/);`,
        ),
        noSecret,
      ],
    },
    {
      name: 'Plan: $events of the classic Subscription carries the changed team',
      description:
        "The classic Subscription saw the same write as a search match. With `full-resource` its notifications hold the team version after the SubscriptionStatus, so the engine needs no read to know what changed.",
      as: NY_PLAN,
      method: 'GET',
      url: 'Subscription/{{classicSubscriptionId}}/$events?eventsSinceNumber=1',
      tests: [
        status(200),
        test(
          'the Health Home team version, with the ended lead',
          ...statusParams,
          `pm.expect(body.type).to.eql('history');`,
          `pm.expect(value('topic')).to.be.undefined;`,
          `pm.expect(Number(value('events-since-subscription-start'))).to.be.at.least(1);`,
          `const teams = body.entry.slice(1).map(function (e) { return e.resource; }).filter(function (r) { return r && r.id === 'ny-rivera-hh-team'; });`,
          `pm.expect(teams.length, 'the changed team in the Bundle').to.be.at.least(1);`,
          `pm.expect(teams[teams.length - 1].participant[1].period.end).to.eql('2027-06-30');`,
        ),
        noSecret,
      ],
    },
    {
      name: 'Plan: a plain http endpoint is refused',
      description:
        "Notifications carry member data, so endpoints must be `https`; plain `http` is allowed only to hosts the operator lists in `SUBSCRIPTION_ALLOWED_HOSTS`. Nothing is stored and nothing is sent to that host: refused with 422 naming `Subscription.channel.endpoint`.",
      as: NY_PLAN,
      method: 'POST',
      url: 'Subscription',
      body: subscription({ criteria: LEAD_TOPIC, filter: 'CareTeam?patient=Patient/ny-rivera', endpoint: 'http://engine.example.org/concord', reason: 'an unencrypted endpoint', payload: 'id-only' }),
      tests: [
        test(
          '422: the endpoint is refused',
          `pm.response.to.have.status(422);`,
          json,
          `pm.expect(body.resourceType).to.eql('OperationOutcome');`,
          `const issue = body.issue.find(function (i) { return (i.expression || []).indexOf('Subscription.channel.endpoint') >= 0; });`,
          `pm.expect(issue, 'an issue on the endpoint').to.be.an('object');`,
          `pm.expect(issue.code).to.eql('invalid');`,
          `pm.expect(issue.diagnostics || issue.details.text).to.include('https');`,
        ),
      ],
    },
    {
      name: 'Plan: an unknown topic is refused',
      description:
        "Only the contract's topics exist (`lead-care-manager`, `care-plan`, `service-request`, `consent`, `enrolment`, `coordination-refused`; the CapabilityStatement lists their canonicals). A Subscription to any other topic is refused with 422 naming `Subscription.criteria`.",
      as: NY_PLAN,
      method: 'POST',
      url: 'Subscription',
      body: subscription({ criteria: '{{baseUrl}}/SubscriptionTopic/lead-changes', endpoint: '{{webhookUrl}}', reason: 'a topic that does not exist', payload: 'id-only' }),
      tests: [
        test(
          '422: not a Concord topic',
          `pm.response.to.have.status(422);`,
          json,
          `pm.expect(body.resourceType).to.eql('OperationOutcome');`,
          `const issue = body.issue.find(function (i) { return (i.expression || []).indexOf('Subscription.criteria') >= 0; });`,
          `pm.expect(issue, 'an issue on the criteria').to.be.an('object');`,
          `pm.expect(issue.diagnostics || issue.details.text).to.include('lead-changes');`,
        ),
      ],
    },
      {
      name: 'Plan: pause the topic Subscription (status off)',
      description:
        "An engine going down for maintenance writes `status: off`: nothing is delivered, events are still numbered and kept, and writing `requested` later resumes from the first undelivered one. The update need not repeat the secret: without the extension the stored one is kept.",
      as: NY_PLAN,
      method: 'PUT',
      url: 'Subscription/{{subscriptionId}}',
      body: (() => {
        const { channel, ...rest } = LEAD_SUBSCRIPTION;
        return { ...rest, id: '{{subscriptionId}}', status: 'off', channel: { ...channel, extension: channel.extension.filter((e) => e.url !== SECRET_EXTENSION) } };
      })(),
      tests: [status(200), test('off', json, `pm.expect(body.status).to.eql('off');`), noSecret],
    },
    {
      name: 'Plan: delete the classic Subscription',
      description: 'A Subscription the engine no longer needs is deleted like any resource; nothing more is sent for it.',
      as: NY_PLAN,
      method: 'DELETE',
      url: 'Subscription/{{classicSubscriptionId}}',
      tests: [test('deleted (2xx)', `pm.expect(pm.response.code).to.be.oneOf([200, 204]);`)],
    },
  ],
};
