import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTesting } from '../../../core/manager/factory.js';
import { PromptEnabled, PromptEnabledService } from '../../../core/manager/promptEnabledService.js';
import type { PromptManager } from '../../../core/manager/promptManager.js';
import { COMPOSITION_RULES, CONTEXT, SERVICE_MAPPINGS, TEMPLATES } from './fixtures.js';

async function manager() {
  return createTesting({ templates: TEMPLATES, serviceMappings: SERVICE_MAPPINGS, compositionRules: COMPOSITION_RULES });
}

class ChatService extends PromptEnabledService {
  static serviceName = 'chat_service';
  reply(userId: string) {
    return this.renderPrompt({ context: { user_id: userId } });
  }
}

test('base class: default template is the first primary template; service_name is injected', async () => {
  const m = await manager();
  const chat = new ChatService({ promptManager: m });
  const r = await chat.reply('u7');
  assert.equal(r.template, 'chat/reply');
  assert.equal(r.text, 'Reply to u7 as chat_service');
  assert.equal((await chat.renderPrompt({ templateName: 'chat/greeting', context: { user_id: 'g' } })).text, 'Hello g');
  await assert.rejects(chat.renderPrompt({ templateName: 'analysis/summary', context: CONTEXT }), { code: 'access_denied' });
  assert.deepEqual(chat.availableTemplates(), ['chat/greeting', 'chat/reply']);
  assert.deepEqual(chat.availableCompositions(), []);
  assert.deepEqual(chat.validateContext({}), { valid: false, missing: ['user_id'] });
  const stats = chat.getRenderStats();
  assert.equal(stats.renders, 2);
  assert.equal(stats.errors['access_denied'], 1);
  assert.equal(stats.latencyMs.count, 2);
  await m.close();
});

test('base class: the service name can be given instead of declared; an unknown one fails at once', async () => {
  const m = await manager();
  const svc = new PromptEnabledService({ promptManager: m, serviceName: 'analysis_service' });
  assert.equal((await svc.renderPrompt({ context: CONTEXT })).template, 'analysis/summary');
  assert.throws(() => new PromptEnabledService({ promptManager: m, serviceName: 'ghost' }), { code: 'access_denied' });
  assert.throws(() => new PromptEnabledService({ promptManager: m }), /needs a service name/);
  await m.close();
});

test('executeWorkflow delegates to the attached engine with the service name', async () => {
  const m = await manager();
  const calls: unknown[] = [];
  m.attachWorkflowEngine({
    async execute(name, context, o) {
      calls.push({ name, service: context.service_name, serviceName: o.serviceName, id: o.workflowId });
      return { status: 'succeeded' };
    },
  });
  const svc = new PromptEnabledService({ promptManager: m, serviceName: 'analysis_service' });
  assert.deepEqual(await svc.executeWorkflow({ compositionName: 'complete_analysis', context: CONTEXT, workflowId: 'w1' }), { status: 'succeeded' });
  assert.deepEqual(calls, [{ name: 'complete_analysis', service: 'analysis_service', serviceName: 'analysis_service', id: 'w1' }]);
  assert.equal(svc.getRenderStats().workflows.runs, 1);
  await m.close();
});

test('mixin: a class that already extends something gets the same capabilities', async () => {
  class Controller {
    constructor(readonly route: string) {}
  }
  class ChatController extends PromptEnabled(Controller) {
    static serviceName = 'chat_service';
    constructor(route: string, promptManager: PromptManager) {
      super(route);
      this.enablePrompts(promptManager);
    }
  }
  const m = await manager();
  const c = new ChatController('/chat', m);
  assert.equal(c.route, '/chat');
  assert.ok(c instanceof Controller);
  assert.equal(c.serviceName, 'chat_service');
  assert.equal((await c.renderPrompt({ context: { user_id: 'm' } })).text, 'Reply to m as chat_service');
  assert.deepEqual(c.availableTemplates(), ['chat/greeting', 'chat/reply']);

  class NotYet extends PromptEnabled(Controller) {}
  assert.throws(() => new NotYet('/x').availableTemplates(), /enablePrompts/);
  await m.close();
});
