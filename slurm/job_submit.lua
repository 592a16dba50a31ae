--[[
foresight's job_submit.lua (Slurm 22.05 and later; JobSubmitPlugins=lua).

Marks the jobs foresight controls (by partition or QOS, below) with
admin_comment=foresight, and, while foresight enforces, gates each at
submission: begin_time = now + the lease. The gate is a lease Slurm lets
lapse by itself: if foresight is not there to lift or renew it, the job
becomes eligible when it runs out, and Slurm's own policy schedules it.

It runs under slurmctld's locks, so it calls out to nothing: it reads one
small local file that the controller writes every cycle
(foresight shadow --submit-cache /run/foresight/job_submit.cache):

  mode=enforce
  lease_s=60
  written_unix_s=1796524759

A missing, unreadable or stale cache (older than one lease: the controller
is gone) means: mark, but never gate. A job whose user asked for a begin
time (--begin) is left to Slurm and not marked. Install: docs/enforce.md.
--]]

-- which jobs foresight controls: edit for the site
local PARTITIONS = { foresight = true }
local QOS = {}
-- the default partition's name, for jobs submitted without --partition
local DEFAULT_PARTITION = "batch"
local CACHE = "/run/foresight/job_submit.cache"
local MARK = "foresight"

local function read_cache()
	local f = io.open(CACHE, "r")
	if f == nil then
		return nil
	end
	local c = {}
	for line in f:lines() do
		local k, v = string.match(line, "^([%w_]+)=(.*)$")
		if k ~= nil then
			c[k] = v
		end
	end
	f:close()
	return c
end

local function controlled(job_desc)
	local partition = job_desc.partition
	if partition == nil or partition == "" then
		partition = DEFAULT_PARTITION
	end
	-- a comma-separated list of partitions: controlled only if all are
	for p in string.gmatch(partition, "[^,]+") do
		if not PARTITIONS[p] then
			return job_desc.qos ~= nil and QOS[job_desc.qos] == true
		end
	end
	return true
end

function slurm_job_submit(job_desc, part_list, submit_uid)
	if not controlled(job_desc) then
		return slurm.SUCCESS
	end
	local begin = job_desc.begin_time
	if begin ~= nil and begin ~= 0 then
		-- the user asked for a begin time: Slurm's own
		return slurm.SUCCESS
	end
	job_desc.admin_comment = MARK
	local c = read_cache()
	local now = os.time()
	if c ~= nil and c.mode == "enforce" then
		local lease = tonumber(c.lease_s) or 60
		local written = tonumber(c.written_unix_s) or 0
		if now - written <= lease then
			job_desc.begin_time = now + lease
		end
	end
	return slurm.SUCCESS
end

function slurm_job_modify(job_desc, job_rec, part_list, modify_uid)
	return slurm.SUCCESS
end

return slurm.SUCCESS
