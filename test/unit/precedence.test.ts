import { describe, expect, it } from 'vitest';
import { DefaultPrecedenceStrategy, type Candidate } from '../../src/domain/precedence.js';

const strategy = new DefaultPrecedenceStrategy({ quantity: ['wms', 'tpl', 'erp'], cost: ['erp'], name: ['shop', 'erp'] });
const found = (source: string, value: number): Candidate<number> => ({ source, status: 'found', value });
const missing = (source: string): Candidate<number> => ({ source, status: 'missing' });
const failed = (source: string): Candidate<number> => ({ source, status: 'failed' });

describe('DefaultPrecedenceStrategy', () => {
  it('gives each field its configured order', () => {
    expect(strategy.order('quantity')).toEqual(['wms', 'tpl', 'erp']);
    expect(strategy.order('cost')).toEqual(['erp']);
    expect(strategy.order('name')).toEqual(['shop', 'erp']);
  });

  it('takes the first source that has the record, without fallback', () => {
    const d = strategy.decide('quantity', [found('wms', 115), found('erp', 120)]);
    expect(d).toEqual({ winner: { source: 'wms', value: 115 }, fallback: false, sourceUnavailable: false, rule: 'quantity: wms > erp' });
  });

  it('falls back past a source that lacks the record', () => {
    const d = strategy.decide('quantity', [missing('wms'), found('erp', 120)]);
    expect(d.winner).toEqual({ source: 'erp', value: 120 });
    expect(d.fallback).toBe(true);
    expect(d.sourceUnavailable).toBe(false);
    expect(d.rule).toBe('quantity: wms > erp (wms: no record)');
  });

  it('falls back past a failed source and says it was unavailable', () => {
    const d = strategy.decide('quantity', [failed('wms'), missing('tpl'), found('erp', 7)]);
    expect(d.winner).toEqual({ source: 'erp', value: 7 });
    expect(d.fallback).toBe(true);
    expect(d.sourceUnavailable).toBe(true);
    expect(d.rule).toBe('quantity: wms > tpl > erp (wms: unavailable; tpl: no record)');
  });

  it('has no winner when nobody answers, and still reports why', () => {
    expect(strategy.decide('quantity', [missing('wms'), missing('erp')])).toEqual({
      winner: undefined,
      fallback: true,
      sourceUnavailable: false,
      rule: 'quantity: wms > erp (wms: no record; erp: no record)',
    });
    expect(strategy.decide('quantity', [failed('wms')]).sourceUnavailable).toBe(true);
  });

  it('treats a zero as an answer, not as missing', () => {
    expect(strategy.decide('quantity', [found('wms', 0), found('erp', 50)]).winner).toEqual({ source: 'wms', value: 0 });
  });

  it('has no winner and no fallback with no candidates at all', () => {
    expect(strategy.decide('cost', [])).toEqual({ winner: undefined, fallback: false, sourceUnavailable: false, rule: 'cost: ' });
  });
});
