import os, json, shutil
base='/work/main/schemas/stream-vs-trace'
out='/work/main/tests/data/schemas/bad'
files={f:open(os.path.join(base,f)).read() for f in os.listdir(base)}
def pos(text, anchor, nth=0):
    i=-1
    for _ in range(nth+1):
        i=text.index(anchor,i+1)
    line=text.count('\n',0,i)+1
    col=i-(text.rfind('\n',0,i)+1)+1
    return line,col
cases=[]
def case(name, file, old, new, path, msg, anchor=None, nth=0, count=1, remove=None, extra=None, raw_expected=None):
    cases.append(dict(name=name,file=file,old=old,new=new,path=path,msg=msg,anchor=anchor,nth=nth,count=count,remove=remove,extra=extra,raw=raw_expected))
G='group.json'; S='stream_schema.json'; T='trace_schema.json'; SR='stream_index_rules.json'; TR='trace_index_rules.json'; SB='stream_index_rule_bindings.json'; TB='trace_index_rule_bindings.json'
case('unknown_field_in_resource_opts',G,'"shard_num": 2,','"shard_number": 2, "shard_num": 2,','$[0].resource_opts.shard_number','unknown field "shard_number" in common.v1.ResourceOpts; expected one of: shard_num, segment_interval, ttl, stages, default_stages, replicas','"shard_number"')
case('missing_shard_num',G,'"shard_num": 2,','','$[0].resource_opts','missing required field "shard_num" in common.v1.ResourceOpts','{\n      \n      "segment_interval"')
case('unknown_catalog_enum',G,'"CATALOG_STREAM"','"CATALOG_STREAMS"','$[0].catalog','unknown catalog value "CATALOG_STREAMS"; expected one of: CATALOG_UNSPECIFIED, CATALOG_STREAM, CATALOG_MEASURE, CATALOG_PROPERTY, CATALOG_TRACE','"CATALOG_STREAMS"')
case('unknown_tag_type_enum',S,'{"name": "latency", "type": "TAG_TYPE_INT"}','{"name": "latency", "type": "TAG_TYPE_LONG"}','$.tag_families[0].tags[4].type','unknown type value "TAG_TYPE_LONG"','"TAG_TYPE_LONG"')
case('unknown_unit_enum',G,'"ttl": {"unit": "UNIT_DAY", "num": 7}','"ttl": {"unit": "UNIT_WEEK", "num": 1}','$[0].resource_opts.ttl.unit','unknown unit value "UNIT_WEEK"; expected one of: UNIT_UNSPECIFIED, UNIT_HOUR, UNIT_DAY','"UNIT_WEEK"')
case('duplicate_group_name',G,'"name": "trace_performance_test"','"name": "stream_performance_test"','$[1].metadata.name','duplicate group name "stream_performance_test" (first defined at','"stream_performance_test"',nth=1)
case('shard_num_zero',G,'"shard_num": 2,','"shard_num": 0,','$[0].resource_opts.shard_num','shard_num must be at least 1, found 0','0,')
case('shard_num_negative',G,'"shard_num": 2,','"shard_num": -3,','$[0].resource_opts.shard_num','-3 is out of range for uint32','-3')
case('shard_num_plus_string',G,'"shard_num": 2,','"shard_num": "+2",','$[0].resource_opts.shard_num','expected an unsigned 32-bit integer, found "+2"','"+2"')
case('shard_num_space_string',G,'"shard_num": 2,','"shard_num": " 2",','$[0].resource_opts.shard_num','expected an unsigned 32-bit integer, found " 2"','" 2"')
case('segment_interval_zero',G,'"segment_interval": {"unit": "UNIT_DAY", "num": 1}','"segment_interval": {"unit": "UNIT_DAY", "num": 0}','$[0].resource_opts.segment_interval.num','segment_interval must be positive: num is 0','0}')
case('ttl_unit_unspecified',G,'"ttl": {"unit": "UNIT_DAY", "num": 7}','"ttl": {"unit": "UNIT_UNSPECIFIED", "num": 7}','$[0].resource_opts.ttl.unit','ttl unit must be UNIT_HOUR or UNIT_DAY, not UNIT_UNSPECIFIED','"UNIT_UNSPECIFIED"')
case('ttl_shorter_than_segment',G,'"ttl": {"unit": "UNIT_DAY", "num": 7}','"ttl": {"unit": "UNIT_HOUR", "num": 12}','$[0].resource_opts.ttl','ttl (12 UNIT_HOUR) is shorter than segment_interval (1 UNIT_DAY)','{"unit": "UNIT_HOUR"')
case('stream_in_trace_group',S,'"group": "stream_performance_test"','"group": "trace_performance_test"','$.metadata.group','stream belongs to group "trace_performance_test", whose catalog is CATALOG_TRACE; a stream needs a CATALOG_STREAM group','"trace_performance_test"')
case('trace_in_stream_group',T,'"group": "trace_performance_test"','"group": "stream_performance_test"','$.metadata.group','trace belongs to group "stream_performance_test", whose catalog is CATALOG_STREAM; a trace needs a CATALOG_TRACE group','"stream_performance_test"')
case('stream_group_missing',S,'"group": "stream_performance_test"','"group": "no_such_group"','$.metadata.group','group "no_such_group" does not exist (groups: stream_performance_test, trace_performance_test)','"no_such_group"')
case('entity_tag_missing',S,'"tag_names": ["serviceId", "serviceInstanceId"]','"tag_names": ["serviceId", "instanceId"]','$.entity.tag_names[1]','entity tag "instanceId" is not a tag of stream "segment_stream"','"instanceId"')
case('trace_id_tag_missing',T,'"trace_id_tag_name": "traceId"','"trace_id_tag_name": "trace_id"','$.trace_id_tag_name','trace_id_tag_name "trace_id" is not a tag of trace "segment_trace"','"trace_id"')
case('trace_id_tag_not_string',T,'"trace_id_tag_name": "traceId"','"trace_id_tag_name": "latency"','$.trace_id_tag_name','trace_id_tag_name "latency" has type TAG_TYPE_INT; expected TAG_TYPE_STRING','"latency"',nth=1)
case('timestamp_tag_not_int',T,'"timestamp_tag_name": "startTime"','"timestamp_tag_name": "operationName"','$.timestamp_tag_name','timestamp_tag_name "operationName" has type TAG_TYPE_STRING; expected TAG_TYPE_INT or TAG_TYPE_TIMESTAMP','"operationName"',nth=1)
case('timestamp_tag_missing',T,'"timestamp_tag_name": "startTime"','"timestamp_tag_name": "start_time"','$.timestamp_tag_name','timestamp_tag_name "start_time" is not a tag of trace "segment_trace"','"start_time"')
case('index_rule_tag_missing',SR,'"tags": ["latency"]','"tags": ["latencyMs"]','$[0].tags[0]','index rule tag "latencyMs" is not a tag of any stream in group "stream_performance_test"','"latencyMs"')
case('index_rule_on_data_binary',SR,'"tags": ["component"]','"tags": ["dataBinary"]','$[5].tags[0]','index rule on tag "dataBinary" of type TAG_TYPE_DATA_BINARY; binary tags cannot be indexed','"dataBinary"')
case('binding_unknown_rule',SB,'"is_error_index"]','"is_error_index", "status_code_index"]','$.rules[7]','index rule "status_code_index" does not exist in group "stream_performance_test"','"status_code_index"')
case('binding_rule_in_other_group',SB,'"is_error_index"]','"is_error_index", "time_based_index"]','$.rules[7]','index rule "time_based_index" is in group "trace_performance_test", not in the binding\'s group "stream_performance_test"','"time_based_index"')
case('binding_unknown_subject',TB,'"name": "segment_trace"','"name": "segment_traces"','$.subject.name','binding subject trace "segment_traces" does not exist in group "trace_performance_test"','"segment_traces"')
case('binding_begin_after_expire',SB,'"begin_at": "2024-01-01T00:00:00Z"','"begin_at": "2031-01-01T00:00:00Z"','$.expire_at','begin_at must be before expire_at; the binding would never be valid','"2030-01-01T00:00:00Z"')
case('binding_bad_timestamp',TB,'"expire_at": "2030-01-01T00:00:00Z"','"expire_at": "2030-02-30T00:00:00Z"','$.expire_at','"2030-02-30T00:00:00Z" is not a real date and time','"2030-02-30T00:00:00Z"')
case('binding_subject_wrong_catalog',SB,'"catalog": "CATALOG_STREAM"','"catalog": "CATALOG_TRACE"','$.subject.catalog','subject catalog is CATALOG_TRACE, but bindings in this file bind CATALOG_STREAM subjects','"CATALOG_TRACE"')
case('duplicate_tag_in_stream',S,'{"name": "isError", "type": "TAG_TYPE_INT"}','{"name": "latency", "type": "TAG_TYPE_INT"}','$.tag_families[0].tags[5].name','duplicate tag name "latency"','"latency"',nth=1)
case('duplicate_index_rule',SR,'"name": "span_id_index"','"name": "trace_id_index"','$[2].metadata.name','duplicate index rule "trace_id_index" in group "stream_performance_test" (first defined at','"trace_id_index"',nth=1)
case('unknown_index_type',TR,'"tags": ["serviceId", "serviceInstanceId", "latency"], "type": "TYPE_INVERTED"','"tags": ["serviceId", "serviceInstanceId", "latency"], "type": "TYPE_BTREE"','$[1].type','unknown type value "TYPE_BTREE"; expected one of: TYPE_UNSPECIFIED, TYPE_INVERTED, TYPE_SKIPPING, TYPE_TREE','"TYPE_BTREE"')
case('group_catalog_measure',G,'"CATALOG_TRACE"','"CATALOG_MEASURE"','$[1].catalog','group "trace_performance_test" has catalog CATALOG_MEASURE; spanlab stores CATALOG_STREAM and CATALOG_TRACE groups','"CATALOG_MEASURE"')
case('trace_rule_sort_key_string',TR,'"tags": ["serviceId", "serviceInstanceId", "latency"]','"tags": ["serviceId", "serviceInstanceId", "operationName"]',None,None,None,
     raw_expected=[('trace_index_rule_bindings.json','$.rules[1]','trace index rule "latency_based_index" ends with tag "operationName" of type TAG_TYPE_STRING; the last tag is the sort key of the secondary index and must be TAG_TYPE_INT or TAG_TYPE_TIMESTAMP','"latency_based_index"')])
case('stream_schema_not_object',S,None,'"segment_stream"\n','$','expected a database.v1.Stream object or an array of them, found a string','"segment_stream"')
case('trace_tags_not_array',T,None,'{"metadata": {"name": "segment_trace", "group": "trace_performance_test"},\n "tags": {"name": "traceId"},\n "trace_id_tag_name": "traceId", "timestamp_tag_name": "startTime"}\n','$.tags','a trace needs a non-empty array of tags','{"name": "traceId"}')
case('same_field_two_spellings',G,'"shard_num": 2,','"shard_num": 2, "shardNum": 2,','$[0].resource_opts.shardNum','field "shard_num" given twice (snake_case and lowerCamel spell the same field)','"shardNum"')
case('rule_name_not_a_file_name',TR,'"name": "time_based_index"','"name": "a/b"','$[0].metadata.name','name "a/b" contains \'/\': stores keep files named after it','"a/b"')
case('tag_name_dot_dot',T,'{"name": "component", "type": "TAG_TYPE_STRING"}','{"name": "..", "type": "TAG_TYPE_STRING"}','$.tags[9].name','name ".." is "." or "..": stores keep files named after it','".."')
case('empty_subject_name',S,'"name": "segment_stream"','"name": ""','$.metadata.name','"name" must not be empty','""')
case('binding_without_rules',TB,'"rules": ["time_based_index", "latency_based_index"]','"rules": []','$.rules','"rules" must list at least one name','[]')
case('missing_group_file',G,None,None,'$','missing file; every schema set needs group.json',None,remove=True)
case('tag_type_unspecified',T,'{"name": "component", "type": "TAG_TYPE_STRING"}','{"name": "component", "type": "TAG_TYPE_UNSPECIFIED"}','$.tags[9].type','tag "component" has type TAG_TYPE_UNSPECIFIED; give it a type','"TAG_TYPE_UNSPECIFIED"')
case('malformed_json_missing_comma',SR,None,None,None,None,None)
case('duplicate_json_key',G,'"catalog": "CATALOG_TRACE",','"catalog": "CATALOG_TRACE", "catalog": "CATALOG_TRACE",',None,None,None)

shutil.rmtree(out, ignore_errors=True)
for c in cases:
    d=os.path.join(out,c['name']); os.makedirs(d)
    f=c['file']; text=files[f]
    exp=[]
    if c['name']=='malformed_json_missing_comma':
        new=text.replace('"type": "TYPE_INVERTED"},\n  {"metadata": {"name": "trace_id_index"','"type": "TYPE_INVERTED"}\n  {"metadata": {"name": "trace_id_index"',1)
        assert new!=text
        open(os.path.join(d,f),'w').write(new)
        l,_=pos(new,'{"metadata": {"name": "trace_id_index"')
        exp.append(f'{f}:{l}:')  # jansson reports the line of the unexpected token
        exp.append(': $: malformed JSON: \']\' expected near \'{\'')
    elif c['name']=='duplicate_json_key':
        new=text.replace(c['old'],c['new'],1); assert new!=text
        open(os.path.join(d,f),'w').write(new)
        l,_=pos(new,'"catalog": "CATALOG_TRACE", "catalog"')
        exp.append(f'{f}:{l}:')
        exp.append(": $: malformed JSON: duplicate object key")
    elif c['remove']:
        open(os.path.join(d,'remove'),'w').write(f+'\n')
        exp.append(f'{f}:1:1: $: {c["msg"]}')
    else:
        if c['old'] is None: new=c['new']
        else:
            assert text.count(c['old'])>=1, (c['name'], c['old'])
            new=text.replace(c['old'],c['new'],1)
        open(os.path.join(d,f),'w').write(new)
        if c['raw']:
            for (ef,path,msg,anchor) in c['raw']:
                l,col=pos(files[ef],anchor) if ef!=f else pos(new,anchor)
                exp.append(f'{ef}:{l}:{col}: {path}: {msg}')
        else:
            l,col=pos(new,c['anchor'],c['nth'])
            exp.append(f'{f}:{l}:{col}: {c["path"]}: {c["msg"]}')
    open(os.path.join(d,'expected'),'w').write('\n'.join(exp)+'\n')
print(len(cases))
