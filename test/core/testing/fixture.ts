/** A prompt workspace on disk for the test runner's tests: a service, a composition with a model step, contexts. */
import { tempWorkspace } from '../../helpers/paths.js';

export const FILES: Record<string, string> = {
  'templates/greet.hbs': 'Hello {{name}}!\nYou have {{count}} new messages.',
  'templates/sorry.hbs': 'Sorry, something went wrong.',
  'templates/brief.hbs': 'Brief for {{name}}: {{topic}}',
  'templates/reply.hbs': 'Write a reply to this brief:\n{{steps.brief.output}}',
  'templates/wrap.hbs': 'Wrapped: {{steps.reply.output}}',
  'service_mappings.yaml': [
    'version: 1',
    'services:',
    '  greeter:',
    '    primary_templates: [greet]',
    '    compositions: [answer]',
    '    context_requirements: { required: [name] }',
    '    fallback: { template: sorry, on: [missing_context] }',
    '',
  ].join('\n'),
  'composition_rules.yaml': [
    'version: 1',
    'providers:',
    '  local: { type: openai-compatible, base_url: "http://127.0.0.1:9/v1", model: m, temperature: 0.1 }',
    '  acme: { type: acme-gateway, model: acme-large }',
    'compositions:',
    '  answer:',
    '    inputs: { required: [name, topic] }',
    '    fail_fast: false',
    '    steps:',
    '      - id: brief',
    '        template: brief',
    '      - id: reply',
    '        template: reply',
    '        depends_on: [brief]',
    '        model: local',
    '        retry: { max_attempts: 3, initial_interval_ms: 1000 }',
    '        fallback: { value: "No reply today." }',
    '      - id: wrap',
    '        template: wrap',
    '        depends_on: [reply]',
    '    output: "{{{steps.wrap.output}}}"',
    '  gateway:',
    '    inputs: { required: [name, topic] }',
    '    steps:',
    '      - id: brief',
    '        template: brief',
    '      - id: reply',
    '        template: reply',
    '        depends_on: [brief]',
    '        model: acme',
    '',
  ].join('\n'),
  'contexts/ada.json': '{ "name": "Ada", "count": 3, "topic": "invoices" }',
};

/** The fixture workspace plus a test file (and any other files). */
export function workspace(tests: string, extra: Record<string, string> = {}): string {
  return tempWorkspace({ ...FILES, 'prompt_tests.yaml': tests, ...extra });
}

export const T = (body: string) => `version: 1\ntests:\n${body}`;
