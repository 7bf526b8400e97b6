BEGIN TRANSACTION;
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO "alembic_version" VALUES('v3.2.0.a');
CREATE TABLE scalesearch_epochs (
	id INTEGER NOT NULL, 
	trial_id INTEGER NOT NULL, 
	epoch INTEGER NOT NULL, 
	steps INTEGER, 
	lr FLOAT, 
	train_loss FLOAT, 
	train_acc FLOAT, 
	val_loss FLOAT, 
	val_acc FLOAT, 
	seconds FLOAT, 
	images_per_s FLOAT, 
	eval_seconds FLOAT, 
	PRIMARY KEY (id), 
	UNIQUE (trial_id, epoch), 
	FOREIGN KEY(trial_id) REFERENCES scalesearch_trials (id) ON DELETE CASCADE
);
INSERT INTO "scalesearch_epochs" VALUES(1,1,1,4,0.0691341716182545,1.40138947963714599609e+00,0.22,1.38381973266601554506e+00,0.32,8.85747229913249611854e-02,2.25798053040016930025e+03,5.72770900907926261425e-03);
INSERT INTO "scalesearch_epochs" VALUES(2,1,2,8,3.80602337443566342278e-03,1.39327538013458251953e+00,0.28,1.38263107299804688388e+00,0.32,4.79200309928273782134e-02,2.9305155570040574274e+03,2.71034600154962390661e-03);
INSERT INTO "scalesearch_epochs" VALUES(3,2,1,4,0.0691341716182545,1.40331971645355224609e+00,0.245,1.39097961425781257993e+00,0.21,1.04708448998280800879e-01,1.91006553829561335081e+03,6.9480969978030771017e-03);
INSERT INTO "scalesearch_epochs" VALUES(4,2,2,8,3.80602337443566342278e-03,1.39376139640808105468e+00,0.225,1.38941726684570321381e+00,0.27,5.93547600001329556107e-02,2.43808470187772218201e+03,3.46781400730833411216e-03);
INSERT INTO "scalesearch_epochs" VALUES(5,3,1,4,0.0691341716182545,1.39078187942504882812e+00,0.23,1.38575393676757818717e+00,0.22,0.0700495549972402,2.85512163507504919835e+03,5.00994100002571940422e-03);
INSERT INTO "scalesearch_epochs" VALUES(6,3,2,8,3.80602337443566342278e-03,1.38861513137817382812e+00,0.29,1.38146575927734382993e+00,0.29,4.47075769916409626603e-02,3.48562214014512028372e+03,2.57760900421999394893e-03);
INSERT INTO "scalesearch_epochs" VALUES(7,4,1,4,0.0691341716182545,1.40816295146942138671e+00,0.235,1.38642608642578135658e+00,0.24,6.54663300083484500646e-02,3.05500552687916751884e+03,4.61460198857821524143e-03);
INSERT INTO "scalesearch_epochs" VALUES(8,4,2,8,3.80602337443566342278e-03,1.39013719558715820312e+00,0.255,1.38516510009765614341e+00,0.24,6.85561319987755268812e-02,2.98457433186638490946e+03,1.19712570012779906392e-02);
CREATE TABLE scalesearch_schema (
	version INTEGER NOT NULL, 
	created DATETIME NOT NULL, 
	PRIMARY KEY (version)
);
INSERT INTO "scalesearch_schema" VALUES(2,'2026-12-03 12:40:46.893633');
CREATE TABLE scalesearch_studies (
	id INTEGER NOT NULL, 
	name VARCHAR(64) NOT NULL, 
	spec_text TEXT NOT NULL, 
	spec_file TEXT, 
	spec_canonical TEXT NOT NULL, 
	spec_hash VARCHAR(64) NOT NULL, 
	seed INTEGER NOT NULL, 
	sampler VARCHAR(16) NOT NULL, 
	objectives JSON NOT NULL, 
	repeats INTEGER NOT NULL, 
	planned INTEGER, 
	versions JSON NOT NULL, 
	hardware JSON NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	message TEXT, 
	created DATETIME NOT NULL, 
	started DATETIME NOT NULL, 
	updated DATETIME NOT NULL, 
	finished DATETIME, 
	wall_seconds FLOAT NOT NULL, 
	runs INTEGER NOT NULL, 
	driver_host VARCHAR(255), 
	driver_pid INTEGER, 
	ray_address VARCHAR(255), 
	classes JSON, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);
INSERT INTO "scalesearch_studies" VALUES(1,'made_by_v2','study: made_by_v2
seed: 0
dataset: {name: synthetic, num_classes: 4, in_channels: 1, image_size: 8, num_train: 300, num_test: 50, val_size: 100}
train: {epochs: 2, batch_size: 50, warmup_epochs: 0}
architecture: {family: cifar_resnet, args: {depth: 8, width: w}}
parameters:
  w: {grid: [4, 6]}
search: {sampler: grid, repeats: 2, keep: none}
','/tmp/x/v2spec.yaml','study: made_by_v2
seed: 0
dataset:
  name: synthetic
  val_size: 100
  num_classes: 4
  in_channels: 1
  image_size: 8
  num_train: 300
  num_test: 50
train: {epochs: 2, batch_size: 50, warmup_epochs: 0.0}
architecture:
  family: cifar_resnet
  args: {depth: 8, width: w}
parameters:
  w: {grid: [4, 6]}
search:
  sampler: grid
  repeats: 2
  objectives: {val_acc: max}
  resources: {cpus: 1.0, gpus: 0.0}
  max_concurrency: 1
  keep: none
','b5860e896daca100d0e9144a91d08ebd239efbcc2074be7eb3fdc3d89be24f43',0,'grid','[["val_acc", "max"]]',2,4,'{"python": "3.11.7", "scalesearch": "0.1.0", "torch": "2.13.0+cpu", "optuna": "5.1.0", "ray": "2.60.0", "sqlalchemy": "2.1.9", "numpy": "2.4.6"}','{"host": "vm", "platform": "Linux-6.18.44-fc-v1098-x86_64-with-glibc2.36", "cpu": "AMD EPYC", "cpus": 2, "memory_gb": 23.5}','finished','every planned trial ended','2026-12-03 12:40:51.112919','2026-12-03 12:41:04.208702','2026-12-03 12:41:15.082432','2026-12-03 12:41:15.082408',1.16140660579985706131e+01,1,'vm',NULL,'127.0.0.1:45851','["0", "1", "2", "3"]');
CREATE TABLE scalesearch_trials (
	id INTEGER NOT NULL, 
	study_id INTEGER NOT NULL, 
	number INTEGER NOT NULL, 
	"key" VARCHAR(64) NOT NULL, 
	config_key VARCHAR(64) NOT NULL, 
	optuna_trial INTEGER, 
	point VARCHAR(64), 
	state VARCHAR(16) NOT NULL, 
	parameters JSON NOT NULL, 
	"values" JSON NOT NULL, 
	netspec TEXT, 
	netspec_hash VARCHAR(16), 
	macs BIGINT, 
	params BIGINT, 
	acts BIGINT, 
	train JSON, 
	data JSON, 
	seed INTEGER, 
	repeat INTEGER NOT NULL, 
	val_acc FLOAT, 
	best_val_acc FLOAT, 
	test_acc FLOAT, 
	epochs_done INTEGER NOT NULL, 
	metrics JSON, 
	error TEXT, 
	traceback TEXT, 
	rejected_by JSON, 
	started DATETIME, 
	finished DATETIME, 
	seconds FLOAT, 
	node VARCHAR(255), 
	attempts INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (study_id, "key"), 
	UNIQUE (study_id, number), 
	FOREIGN KEY(study_id) REFERENCES scalesearch_studies (id) ON DELETE CASCADE
);
INSERT INTO "scalesearch_trials" VALUES(1,1,0,'eed6e2a01d286405db2b9233288c31863661b2791a31ae79c4334ddd43cd5d20','7293085ebce0df17fd68f260a1992fe9d537745735c6597cc2946136371bc8be',0,NULL,'completed','{"w": 4}','{"w": 4}','{"drop_path":0.0,"head":{"act":"relu","dropout":0.0,"preact":false,"width":0},"in_channels":1,"num_classes":4,"resolution":8,"stages":[{"act":"relu","block":"basic","depth":1,"dropout":0.0,"expand":1.0,"groups":1,"kernel":3,"mid":0,"se":0.0,"shortcut":"A","stride":1,"stride_on":"3x3","width":4},{"act":"relu","block":"basic","depth":1,"dropout":0.0,"expand":1.0,"groups":1,"kernel":3,"mid":0,"se":0.0,"shortcut":"A","stride":2,"stride_on":"3x3","width":8},{"act":"relu","block":"basic","depth":1,"dropout":0.0,"expand":1.0,"groups":1,"kernel":3,"mid":0,"se":0.0,"shortcut":"A","stride":2,"stride_on":"3x3","width":16}],"stem":{"act":"relu","kernel":3,"norm_act":true,"pool":false,"stride":1,"width":4}}','af0c8a1137eb0f8d',48448,4832,1156,'{"epochs": 2, "max_steps": null, "batch_size": 50, "lr": 0.1, "momentum": 0.9, "nesterov": true, "weight_decay": 0.0005, "wd_on_bn_bias": false, "label_smoothing": 0.0, "schedule": "cosine", "milestones": [0.5, 0.75], "gamma": 0.1, "warmup_epochs": 0.0, "augment": true, "crop_padding": 4, "crop_pad_mode": "reflect", "flip": true, "seed": 8542448, "device": "cpu", "eval_batch_size": null, "eval_test": false, "bf16": true, "channels_last": true, "compile": false, "nan_check_every": 100, "checkpoint_every": 0, "zero_init_residual": false}','{"name": "synthetic", "train_size": null, "val_size": 100, "test_size": null, "resolution": null, "num_classes": 4, "in_channels": 1, "image_size": 8, "num_train": 300, "num_test": 50, "seed": 0}',8542448,0,0.32,0.32,NULL,2,'{"train_seconds": 0.13649475398415234, "total_seconds": 3.3995518820011057, "images_per_s": 2930.5155570040574, "steps": 8, "device": "cpu"}',NULL,NULL,NULL,'2026-12-03 12:41:04.421494','2026-12-03 12:41:14.402068',9.980574,'vm/d9795e8e79d2',1);
INSERT INTO "scalesearch_trials" VALUES(2,1,1,'c0c4e993c9594070b1d9d74467969a8ff4c202f02dc69b0740f717d4c6eff7fc','7293085ebce0df17fd68f260a1992fe9d537745735c6597cc2946136371bc8be',0,NULL,'completed','{"w": 4}','{"w": 4}','{"drop_path":0.0,"head":{"act":"relu","dropout":0.0,"preact":false,"width":0},"in_channels":1,"num_classes":4,"resolution":8,"stages":[{"act":"relu","block":"basic","depth":1,"dropout":0.0,"expand":1.0,"groups":1,"kernel":3,"mid":0,"se":0.0,"shortcut":"A","stride":1,"stride_on":"3x3","width":4},{"act":"relu","block":"basic","depth":1,"dropout":0.0,"expand":1.0,"groups":1,"kernel":3,"mid":0,"se":0.0,"shortcut":"A","stride":2,"stride_on":"3x3","width":8},{"act":"relu","block":"basic","depth":1,"dropout":0.0,"expand":1.0,"groups":1,"kernel":3,"mid":0,"se":0.0,"shortcut":"A","stride":2,"stride_on":"3x3","width":16}],"stem":{"act":"relu","kernel":3,"norm_act":true,"pool":false,"stride":1,"width":4}}','af0c8a1137eb0f8d',48448,4832,1156,'{"epochs": 2, "max_steps": null, "batch_size": 50, "lr": 0.1, "momentum": 0.9, "nesterov": true, "weight_decay": 0.0005, "wd_on_bn_bias": false, "label_smoothing": 0.0, "schedule": "cosine", "milestones": [0.5, 0.75], "gamma": 0.1, "warmup_epochs": 0.0, "augment": true, "crop_padding": 4, "crop_pad_mode": "reflect", "flip": true, "seed": 603559011, "device": "cpu", "eval_batch_size": null, "eval_test": false, "bf16": true, "channels_last": true, "compile": false, "nan_check_every": 100, "checkpoint_every": 0, "zero_init_residual": false}','{"name": "synthetic", "train_size": null, "val_size": 100, "test_size": null, "resolution": null, "num_classes": 4, "in_channels": 1, "image_size": 8, "num_train": 300, "num_test": 50, "seed": 0}',603559011,1,0.27,0.27,NULL,2,'{"train_seconds": 0.16406320899841376, "total_seconds": 0.19642392799141817, "images_per_s": 2438.084701877722, "steps": 8, "device": "cpu"}',NULL,NULL,NULL,'2026-12-03 12:41:14.406468','2026-12-03 12:41:14.629992',0.223524,'vm/d9795e8e79d2',1);
INSERT INTO "scalesearch_trials" VALUES(3,1,2,'b9d3b1f8111b1d40f3652214b29053e1a8ae658d5aa7279af0c9077a05011402','e9916f365182255c4fa26f2f7c4220c7440746398fe0ebfc8c3bfb0829a55341',1,NULL,'completed','{"w": 6}','{"w": 6}','{"drop_path":0.0,"head":{"act":"relu","dropout":0.0,"preact":false,"width":0},"in_channels":1,"num_classes":4,"resolution":8,"stages":[{"act":"relu","block":"basic","depth":1,"dropout":0.0,"expand":1.0,"groups":1,"kernel":3,"mid":0,"se":0.0,"shortcut":"A","stride":1,"stride_on":"3x3","width":6},{"act":"relu","block":"basic","depth":1,"dropout":0.0,"expand":1.0,"groups":1,"kernel":3,"mid":0,"se":0.0,"shortcut":"A","stride":2,"stride_on":"3x3","width":12},{"act":"relu","block":"basic","depth":1,"dropout":0.0,"expand":1.0,"groups":1,"kernel":3,"mid":0,"se":0.0,"shortcut":"A","stride":2,"stride_on":"3x3","width":24}],"stem":{"act":"relu","kernel":3,"norm_act":true,"pool":false,"stride":1,"width":6}}','33dbeb78e230d504',107232,10702,1732,'{"epochs": 2, "max_steps": null, "batch_size": 50, "lr": 0.1, "momentum": 0.9, "nesterov": true, "weight_decay": 0.0005, "wd_on_bn_bias": false, "label_smoothing": 0.0, "schedule": "cosine", "milestones": [0.5, 0.75], "gamma": 0.1, "warmup_epochs": 0.0, "augment": true, "crop_padding": 4, "crop_pad_mode": "reflect", "flip": true, "seed": 8542448, "device": "cpu", "eval_batch_size": null, "eval_test": false, "bf16": true, "channels_last": true, "compile": false, "nan_check_every": 100, "checkpoint_every": 0, "zero_init_residual": false}','{"name": "synthetic", "train_size": null, "val_size": 100, "test_size": null, "resolution": null, "num_classes": 4, "in_channels": 1, "image_size": 8, "num_train": 300, "num_test": 50, "seed": 0}',8542448,0,0.29,0.29,NULL,2,'{"train_seconds": 0.11475713198888116, "total_seconds": 0.15886381499876734, "images_per_s": 3485.6221401451203, "steps": 8, "device": "cpu"}',NULL,NULL,NULL,'2026-12-03 12:41:14.664650','2026-12-03 12:41:14.849358',0.184708,'vm/d9795e8e79d2',1);
INSERT INTO "scalesearch_trials" VALUES(4,1,3,'ee35dfc944605d61b189b0ef82174d2e1af5993609b1381d3bb29ec8d89a2ba2','e9916f365182255c4fa26f2f7c4220c7440746398fe0ebfc8c3bfb0829a55341',1,NULL,'completed','{"w": 6}','{"w": 6}','{"drop_path":0.0,"head":{"act":"relu","dropout":0.0,"preact":false,"width":0},"in_channels":1,"num_classes":4,"resolution":8,"stages":[{"act":"relu","block":"basic","depth":1,"dropout":0.0,"expand":1.0,"groups":1,"kernel":3,"mid":0,"se":0.0,"shortcut":"A","stride":1,"stride_on":"3x3","width":6},{"act":"relu","block":"basic","depth":1,"dropout":0.0,"expand":1.0,"groups":1,"kernel":3,"mid":0,"se":0.0,"shortcut":"A","stride":2,"stride_on":"3x3","width":12},{"act":"relu","block":"basic","depth":1,"dropout":0.0,"expand":1.0,"groups":1,"kernel":3,"mid":0,"se":0.0,"shortcut":"A","stride":2,"stride_on":"3x3","width":24}],"stem":{"act":"relu","kernel":3,"norm_act":true,"pool":false,"stride":1,"width":6}}','33dbeb78e230d504',107232,10702,1732,'{"epochs": 2, "max_steps": null, "batch_size": 50, "lr": 0.1, "momentum": 0.9, "nesterov": true, "weight_decay": 0.0005, "wd_on_bn_bias": false, "label_smoothing": 0.0, "schedule": "cosine", "milestones": [0.5, 0.75], "gamma": 0.1, "warmup_epochs": 0.0, "augment": true, "crop_padding": 4, "crop_pad_mode": "reflect", "flip": true, "seed": 603559011, "device": "cpu", "eval_batch_size": null, "eval_test": false, "bf16": true, "channels_last": true, "compile": false, "nan_check_every": 100, "checkpoint_every": 0, "zero_init_residual": false}','{"name": "synthetic", "train_size": null, "val_size": 100, "test_size": null, "resolution": null, "num_classes": 4, "in_channels": 1, "image_size": 8, "num_train": 300, "num_test": 50, "seed": 0}',603559011,1,0.24,0.24,NULL,2,'{"train_seconds": 0.13402246200712398, "total_seconds": 0.16481070099689532, "images_per_s": 2984.574331866385, "steps": 8, "device": "cpu"}',NULL,NULL,NULL,'2026-12-03 12:41:14.852562','2026-12-03 12:41:15.044913',0.192351,'vm/d9795e8e79d2',1);
CREATE TABLE studies (
	study_id INTEGER NOT NULL, 
	study_name VARCHAR(512) NOT NULL, 
	PRIMARY KEY (study_id)
);
INSERT INTO "studies" VALUES(1,'made_by_v2');
CREATE TABLE study_directions (
	study_direction_id INTEGER NOT NULL, 
	direction VARCHAR(8) NOT NULL, 
	study_id INTEGER NOT NULL, 
	objective INTEGER NOT NULL, 
	PRIMARY KEY (study_direction_id), 
	UNIQUE (study_id, objective), 
	FOREIGN KEY(study_id) REFERENCES studies (study_id)
);
INSERT INTO "study_directions" VALUES(1,'MAXIMIZE',1,0);
CREATE TABLE study_system_attributes (
	study_system_attribute_id INTEGER NOT NULL, 
	study_id INTEGER, 
	"key" VARCHAR(512), 
	value_json TEXT, 
	PRIMARY KEY (study_system_attribute_id), 
	UNIQUE (study_id, "key"), 
	FOREIGN KEY(study_id) REFERENCES studies (study_id)
);
CREATE TABLE study_user_attributes (
	study_user_attribute_id INTEGER NOT NULL, 
	study_id INTEGER, 
	"key" VARCHAR(512), 
	value_json TEXT, 
	PRIMARY KEY (study_user_attribute_id), 
	UNIQUE (study_id, "key"), 
	FOREIGN KEY(study_id) REFERENCES studies (study_id)
);
INSERT INTO "study_user_attributes" VALUES(1,1,'scalesearch','{"objectives": [["val_acc", "max"]], "spec_hash": "b5860e896daca100d0e9144a91d08ebd239efbcc2074be7eb3fdc3d89be24f43"}');
CREATE TABLE trial_heartbeats (
	trial_heartbeat_id INTEGER NOT NULL, 
	trial_id INTEGER NOT NULL, 
	heartbeat DATETIME NOT NULL, 
	PRIMARY KEY (trial_heartbeat_id), 
	UNIQUE (trial_id), 
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_intermediate_values (
	trial_intermediate_value_id INTEGER NOT NULL, 
	trial_id INTEGER NOT NULL, 
	step INTEGER NOT NULL, 
	intermediate_value FLOAT, 
	intermediate_value_type VARCHAR(7) NOT NULL, 
	PRIMARY KEY (trial_intermediate_value_id), 
	UNIQUE (trial_id, step), 
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
INSERT INTO "trial_intermediate_values" VALUES(1,1,1,0.265,'FINITE');
INSERT INTO "trial_intermediate_values" VALUES(2,1,2,2.95000000000000039968e-01,'FINITE');
INSERT INTO "trial_intermediate_values" VALUES(3,2,1,2.29999999999999982236e-01,'FINITE');
INSERT INTO "trial_intermediate_values" VALUES(4,2,2,0.265,'FINITE');
CREATE TABLE trial_params (
	param_id INTEGER NOT NULL, 
	trial_id INTEGER, 
	param_name VARCHAR(512), 
	param_value FLOAT, 
	distribution_json TEXT, 
	PRIMARY KEY (param_id), 
	UNIQUE (trial_id, param_name), 
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
INSERT INTO "trial_params" VALUES(1,1,'w',0.0,'{"name": "CategoricalDistribution", "attributes": {"choices": [4, 6]}}');
INSERT INTO "trial_params" VALUES(2,2,'w',1.0,'{"name": "CategoricalDistribution", "attributes": {"choices": [4, 6]}}');
CREATE TABLE trial_system_attributes (
	trial_system_attribute_id INTEGER NOT NULL, 
	trial_id INTEGER, 
	"key" VARCHAR(512), 
	value_json TEXT, 
	PRIMARY KEY (trial_system_attribute_id), 
	UNIQUE (trial_id, "key"), 
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
INSERT INTO "trial_system_attributes" VALUES(1,1,'fixed_params','{"w": 4}');
INSERT INTO "trial_system_attributes" VALUES(2,2,'fixed_params','{"w": 6}');
CREATE TABLE trial_user_attributes (
	trial_user_attribute_id INTEGER NOT NULL, 
	trial_id INTEGER, 
	"key" VARCHAR(512), 
	value_json TEXT, 
	PRIMARY KEY (trial_user_attribute_id), 
	UNIQUE (trial_id, "key"), 
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
INSERT INTO "trial_user_attributes" VALUES(1,1,'scalesearch_state','"completed"');
INSERT INTO "trial_user_attributes" VALUES(2,2,'scalesearch_state','"completed"');
CREATE TABLE trial_values (
	trial_value_id INTEGER NOT NULL, 
	trial_id INTEGER NOT NULL, 
	objective INTEGER NOT NULL, 
	value FLOAT, 
	value_type VARCHAR(7) NOT NULL, 
	PRIMARY KEY (trial_value_id), 
	UNIQUE (trial_id, objective), 
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
INSERT INTO "trial_values" VALUES(1,1,0,2.95000000000000039968e-01,'FINITE');
INSERT INTO "trial_values" VALUES(2,2,0,0.265,'FINITE');
CREATE TABLE trials (
	trial_id INTEGER NOT NULL, 
	number INTEGER, 
	study_id INTEGER, 
	state VARCHAR(8) NOT NULL, 
	datetime_start DATETIME, 
	datetime_complete DATETIME, 
	PRIMARY KEY (trial_id), 
	FOREIGN KEY(study_id) REFERENCES studies (study_id)
);
INSERT INTO "trials" VALUES(1,0,1,'COMPLETE','2026-12-03 12:41:04.400262','2026-12-03 12:41:14.642908');
INSERT INTO "trials" VALUES(2,1,1,'COMPLETE','2026-12-03 12:41:14.655788','2026-12-03 12:41:15.052822');
CREATE TABLE version_info (
	version_info_id INTEGER NOT NULL, 
	schema_version INTEGER, 
	library_version VARCHAR(256), 
	PRIMARY KEY (version_info_id), 
	CHECK (version_info_id=1)
);
INSERT INTO "version_info" VALUES(1,12,'5.1.0');
CREATE INDEX ix_scalesearch_trials_study_state ON scalesearch_trials (study_id, state);
CREATE INDEX ix_scalesearch_trials_config_key ON scalesearch_trials (config_key);
CREATE INDEX ix_scalesearch_epochs_trial_id ON scalesearch_epochs (trial_id);
CREATE UNIQUE INDEX ix_studies_study_name ON studies (study_name);
CREATE INDEX ix_trials_study_id ON trials (study_id);
COMMIT;
